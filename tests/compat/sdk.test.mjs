// The official OpenAI and Anthropic SDKs, unchanged, pointed at a running Spendwall.
//
// Environment (tests/integration/test_compat.py sets it):
//   SPENDWALL_BASE_URL        http://127.0.0.1:PORT (no /v1)
//   SPENDWALL_KEY             a workflow key allowed on the routes below
//   SPENDWALL_BROKE_KEY       a key whose budget blocks every request (optional)
//   SPENDWALL_CHAT_MODEL      route for OpenAI chat/responses/completions (default "gpt")
//   SPENDWALL_MESSAGES_MODEL  route for Anthropic messages (default "claude")
//   SPENDWALL_EMBED_MODEL     route for embeddings (default "embed")
//   SPENDWALL_FORBIDDEN_MODEL a route the key may not use (default "forbidden")
//   SPENDWALL_CHAT_TEXT / SPENDWALL_MESSAGES_TEXT  exact expected answers (optional)
//   SPENDWALL_FALLBACK_MODEL  a route whose first target answers 500 and whose fallback
//                             answers (optional; SPENDWALL_FALLBACK_TEXT its exact answer)
// Run: node --test   (from this folder, after npm ci)

import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';

const env = process.env;
const baseURL = env.SPENDWALL_BASE_URL;
const key = env.SPENDWALL_KEY;
if (!baseURL || !key) {
  throw new Error('set SPENDWALL_BASE_URL and SPENDWALL_KEY');
}
const CHAT = env.SPENDWALL_CHAT_MODEL ?? 'gpt';
const MESSAGES = env.SPENDWALL_MESSAGES_MODEL ?? 'claude';
const EMBED = env.SPENDWALL_EMBED_MODEL ?? 'embed';
const FORBIDDEN = env.SPENDWALL_FORBIDDEN_MODEL ?? 'forbidden';
const PROMPT = 'Say hello to the SDK compatibility tests.';

function openai(options = {}) {
  return new OpenAI({ baseURL: `${baseURL}/v1`, apiKey: key, maxRetries: 0, timeout: 20_000, ...options });
}

function anthropic(options = {}) {
  return new Anthropic({ baseURL, apiKey: key, maxRetries: 0, timeout: 20_000, ...options });
}

function assertText(actual, expectedEnv) {
  assert.equal(typeof actual, 'string');
  if (expectedEnv) {
    assert.equal(actual, expectedEnv);
  } else {
    assert.ok(actual.length > 0, 'some text');
  }
}

/** Awaits a rejection of class `ErrorClass` (status `status`); `check(e)` may assert more. */
async function rejectsWith(promise, ErrorClass, status, check = () => {}) {
  let error = null;
  try {
    await promise;
  } catch (e) {
    error = e;
  }
  assert.ok(error, `expected ${ErrorClass.name}, but the call succeeded`);
  assert.ok(error instanceof ErrorClass,
    `expected ${ErrorClass.name}, got ${error.constructor.name} (status ${error.status}): ${error.message}`);
  assert.equal(error.status, status);
  check(error);
}

/** A fetch that counts the HTTP requests an SDK makes. */
function countingFetch() {
  const counter = { calls: 0 };
  counter.fetch = (...args) => {
    counter.calls += 1;
    return fetch(...args);
  };
  return counter;
}

describe('OpenAI SDK', () => {
  test('chat completion', async () => {
    const { data, response } = await openai()
      .chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: PROMPT }] })
      .withResponse();
    assertText(data.choices[0].message.content, env.SPENDWALL_CHAT_TEXT);
    assert.ok(data.usage.prompt_tokens > 0);
    assert.equal(response.headers.get('x-spendwall-route'), CHAT);
    assert.ok(response.headers.get('x-spendwall-request-id'));
  });

  test('streaming chat completion', async () => {
    const stream = await openai().chat.completions.create({
      model: CHAT, stream: true, messages: [{ role: 'user', content: PROMPT }],
    });
    let text = '';
    for await (const chunk of stream) {
      assert.notDeepEqual(chunk.choices, [], 'a usage chunk the client did not ask for');
      text += chunk.choices[0]?.delta?.content ?? '';
    }
    assertText(text, env.SPENDWALL_CHAT_TEXT);
  });

  test('streaming chat completion with usage', async () => {
    const stream = await openai().chat.completions.create({
      model: CHAT, stream: true, stream_options: { include_usage: true },
      messages: [{ role: 'user', content: PROMPT }],
    });
    let usage = null;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(usage && usage.completion_tokens > 0, 'the final chunk carries usage');
  });

  test('chat completion stream helper', async () => {
    const runner = openai().chat.completions.stream({
      model: CHAT, messages: [{ role: 'user', content: PROMPT }],
    });
    const completion = await runner.finalChatCompletion();
    assertText(completion.choices[0].message.content, env.SPENDWALL_CHAT_TEXT);
  });

  test('embeddings (the SDK asks for base64)', async () => {
    const result = await openai().embeddings.create({ model: EMBED, input: ['one', 'two'] });
    assert.equal(result.data.length, 2);
    for (const item of result.data) {
      assert.ok(Array.isArray(item.embedding) && item.embedding.length > 0);
      assert.ok(item.embedding.every(Number.isFinite));
    }
  });

  test('responses', async () => {
    const response = await openai().responses.create({ model: CHAT, input: PROMPT });
    assertText(response.output_text, env.SPENDWALL_CHAT_TEXT);
    assert.ok(response.usage.input_tokens > 0);
  });

  test('streaming responses', async () => {
    const stream = await openai().responses.create({ model: CHAT, input: PROMPT, stream: true });
    let text = '';
    let completed = null;
    for await (const event of stream) {
      if (event.type === 'response.output_text.delta') text += event.delta;
      if (event.type === 'response.completed') completed = event.response;
    }
    assertText(text, env.SPENDWALL_CHAT_TEXT);
    assert.ok(completed?.usage?.output_tokens > 0, 'response.completed carries usage');
  });

  test('legacy completions', async () => {
    const result = await openai().completions.create({ model: CHAT, prompt: PROMPT });
    assertText(result.choices[0].text, env.SPENDWALL_CHAT_TEXT);
  });

  test('wrong key raises AuthenticationError', async () => {
    await rejectsWith(
      openai({ apiKey: 'sw-not-a-key' }).chat.completions.create({ model: CHAT, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.AuthenticationError, 401);
  });

  test('unknown model raises NotFoundError', async () => {
    await rejectsWith(
      openai().chat.completions.create({ model: 'no-such-route', messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.NotFoundError, 404, (e) => assert.ok(e.code === 'model_not_found', e.message));
  });

  test('route not allowed raises PermissionDeniedError', async () => {
    await rejectsWith(
      openai().chat.completions.create({ model: FORBIDDEN, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.PermissionDeniedError, 403, (e) => assert.ok(e.code === 'route_not_allowed', e.message));
  });

  test('bad max_tokens raises BadRequestError', async () => {
    await rejectsWith(
      openai().chat.completions.create({ model: CHAT, max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.BadRequestError, 400, (e) => assert.ok(e.type === 'invalid_request_error', e.message));
  });

  test('exhausted budget raises RateLimitError without retries', { skip: !env.SPENDWALL_BROKE_KEY }, async () => {
    const counter = countingFetch();
    const client = openai({ apiKey: env.SPENDWALL_BROKE_KEY, maxRetries: 3, fetch: counter.fetch });
    await rejectsWith(
      client.chat.completions.create({ model: CHAT, max_tokens: 1000, messages: [{ role: 'user', content: 'x' }] }),
      OpenAI.RateLimitError, 429, (e) => assert.ok(e.code === 'budget_exceeded', e.message));
    assert.equal(counter.calls, 1, 'x-should-retry: false stops the SDK retrying');
  });
});

describe('Anthropic SDK', () => {
  test('message', async () => {
    const message = await anthropic().messages.create({
      model: MESSAGES, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }],
    });
    assertText(message.content.map((b) => b.text ?? '').join(''), env.SPENDWALL_MESSAGES_TEXT);
    assert.ok(message.usage.output_tokens > 0);
  });

  test('message with a bearer token instead of x-api-key', async () => {
    const client = new Anthropic({ baseURL, apiKey: null, authToken: key, maxRetries: 0 });
    const message = await client.messages.create({
      model: MESSAGES, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }],
    });
    assert.equal(message.type, 'message');
  });

  test('streaming message (helper)', async () => {
    const stream = anthropic().messages.stream({
      model: MESSAGES, max_tokens: 64, messages: [{ role: 'user', content: PROMPT }],
    });
    const message = await stream.finalMessage();
    assertText(message.content.map((b) => b.text ?? '').join(''), env.SPENDWALL_MESSAGES_TEXT);
    assert.ok(message.usage.output_tokens > 0);
  });

  test('streaming message (raw events)', async () => {
    const stream = await anthropic().messages.create({
      model: MESSAGES, max_tokens: 64, stream: true, messages: [{ role: 'user', content: PROMPT }],
    });
    const types = [];
    for await (const event of stream) types.push(event.type);
    assert.equal(types[0], 'message_start');
    assert.equal(types.at(-1), 'message_stop');
    assert.ok(types.includes('content_block_delta'));
  });

  test('wrong key raises AuthenticationError', async () => {
    await rejectsWith(
      anthropic({ apiKey: 'sw-not-a-key' }).messages.create({ model: MESSAGES, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.AuthenticationError, 401);
  });

  test('unknown model raises NotFoundError', async () => {
    await rejectsWith(
      anthropic().messages.create({ model: 'no-such-route', max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.NotFoundError, 404, (e) => assert.ok(e.error?.error?.type === 'not_found_error', e.message));
  });

  test('route not allowed raises PermissionDeniedError', async () => {
    await rejectsWith(
      anthropic().messages.create({ model: FORBIDDEN, max_tokens: 8, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.PermissionDeniedError, 403);
  });

  test('bad max_tokens raises BadRequestError', async () => {
    await rejectsWith(
      anthropic().messages.create({ model: MESSAGES, max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.BadRequestError, 400, (e) => assert.ok(e.error?.error?.type === 'invalid_request_error', e.message));
  });

  test('exhausted budget raises RateLimitError without retries', { skip: !env.SPENDWALL_BROKE_KEY }, async () => {
    const counter = countingFetch();
    const client = anthropic({ apiKey: env.SPENDWALL_BROKE_KEY, maxRetries: 3, fetch: counter.fetch });
    await rejectsWith(
      client.messages.create({ model: MESSAGES, max_tokens: 1000, messages: [{ role: 'user', content: 'x' }] }),
      Anthropic.RateLimitError, 429);
    assert.equal(counter.calls, 1, 'x-should-retry: false stops the SDK retrying');
  });
});

describe('Fallbacks', () => {
  test('chat completion succeeds although the first target answers 500',
    { skip: !env.SPENDWALL_FALLBACK_MODEL }, async () => {
      const counter = countingFetch();
      const { data, response } = await openai({ fetch: counter.fetch })
        .chat.completions.create({
          model: env.SPENDWALL_FALLBACK_MODEL, messages: [{ role: 'user', content: PROMPT }],
        })
        .withResponse();
      assertText(data.choices[0].message.content, env.SPENDWALL_FALLBACK_TEXT);
      assert.equal(response.headers.get('x-spendwall-fallbacks'), '1');
      assert.equal(counter.calls, 1, 'the proxy fell back; the SDK did not retry');
    });
});
