# Sourced by the build-and-test scripts: what every build of theirs shares.
# Lets ccache reuse objects across checkouts in different folders (CI clones anew), and
# sets `werror` to ON under CI (CI=true) so that a warning fails the run there.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
werror=OFF
if [ "${CI:-}" = "true" ]; then werror=ON; fi
