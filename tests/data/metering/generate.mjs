// Writes the metering test payloads: provider response bodies and SSE streams in the
// providers' wire formats, with the request each answers.
//
// OpenAI token counts are computed with the models' tokenizers (o200k_base for GPT-4o-class
// and o-series chat/Responses models, cl100k_base for gpt-3.5-turbo-instruct and
// text-embedding-3), with the chat format's overhead of 3 tokens per message plus 3.
// Streamed chunks carry one token each, as OpenAI sends them. Hidden reasoning token
// counts cannot be derived from text and are plausible values. Anthropic's tokenizer is not
// public: its counts are o200k counts scaled by 1.15, plausible but not exact.
//
// Regenerate (from this folder): npm install gpt-tokenizer@2.9.0 && node generate.mjs
import { readFileSync, writeFileSync } from 'node:fs';
import * as o200k from 'gpt-tokenizer/encoding/o200k_base';
import * as cl100k from 'gpt-tokenizer/encoding/cl100k_base';

const here = new URL('.', import.meta.url).pathname;
const write = (name, text) => writeFileSync(here + name, text);
const writeJson = (name, value) => write(name, JSON.stringify(value, null, 2) + '\n');

const chatPromptTokens = (enc, messages) =>
  messages.reduce((n, m) => n + 3 + enc.encode(m.role).length + enc.encode(m.content).length, 3);
const pieces = (enc, text) => enc.encode(text).map((t) => enc.decode([t]));
const anthropicTokens = (text) => Math.round(o200k.encode(text).length * 1.15);

let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

// A long, stable system prompt, as teams put a policy document in front of every question.
const apache = readFileSync('/usr/share/common-licenses/Apache-2.0', 'utf8');
const longPolicy =
  'You answer questions about the following license. Quote section numbers when you can.\n\n' +
  apache.slice(0, 6200);

// ---------------------------------------------------------------- chat, plain
{
  const messages = [
    { role: 'system', content: 'You are a concise assistant for a platform engineering team.' },
    {
      role: 'user',
      content:
        'Explain in two sentences what a token bucket rate limiter does and when to prefer it over a fixed window counter.',
    },
  ];
  const answer =
    'A token bucket refills at a steady rate up to a fixed capacity, and each request spends a token, so it allows short bursts while enforcing an average rate over time. Prefer it over a fixed window counter when clients send bursty traffic and you want to avoid the double-burst at window boundaries that fixed windows permit.';
  const prompt = chatPromptTokens(o200k, messages);
  const completion = o200k.encode(answer).length;
  writeJson('chat_plain.request.json', { model: 'gpt-4o-mini', messages });
  writeJson('chat_plain.json', {
    id: 'chatcmpl-BL2x7yQmVh3T9pN4aKcW1eZr8sDfu',
    object: 'chat.completion',
    created: 1744380121,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_b376dfbbd5',
  });
}

// ---------------------------------------------------------------- chat, cached prefix
{
  const messages = [
    { role: 'system', content: longPolicy },
    { role: 'user', content: 'Does the license require me to state changes I made to the files? Answer briefly.' },
  ];
  const answer =
    'Yes. Section 4(b) requires that any modified files carry prominent notices stating that you changed the files. You must also keep the existing copyright, patent, trademark and attribution notices (4(c)) and pass on the NOTICE file if the work includes one (4(d)).';
  const prompt = chatPromptTokens(o200k, messages);
  const completion = o200k.encode(answer).length;
  // The cache covers the stable prefix in 128-token steps.
  const cached = Math.floor((prompt - 40) / 128) * 128;
  writeJson('chat_cached.request.json', { model: 'gpt-4o', messages });
  writeJson('chat_cached.json', {
    id: 'chatcmpl-BL31aFh0sXq2Gm7TtV9YcNpOe4LkR',
    object: 'chat.completion',
    created: 1744380388,
    model: 'gpt-4o-2024-08-06',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer, refusal: null, annotations: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: completion,
      total_tokens: prompt + completion,
      prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: 0,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_f5bdcc3276',
  });
}

// ---------------------------------------------------------------- chat, reasoning model
{
  const messages = [
    {
      role: 'user',
      content:
        'Three services call each other: A calls B, B calls C, and C calls A only on cache misses. Each hop adds 40 ms. If the cache hit rate is 90%, what is the expected latency of a request entering at A? Show the result only.',
    },
  ];
  const answer = 'Expected latency: 80 ms + 0.1 × 40 ms = 84 ms per request entering at A.';
  const prompt = chatPromptTokens(o200k, messages);
  const visible = o200k.encode(answer).length;
  const reasoning = 1344;
  writeJson('chat_reasoning.request.json', { model: 'o4-mini', messages });
  writeJson('chat_reasoning.json', {
    id: 'chatcmpl-BL35Zq1cYb8vKx2oHsU0mAgWnJ7iE',
    object: 'chat.completion',
    created: 1744380622,
    model: 'o4-mini-2025-04-16',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: answer, refusal: null, annotations: [] },
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: prompt,
      completion_tokens: visible + reasoning,
      total_tokens: prompt + visible + reasoning,
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: {
        reasoning_tokens: reasoning,
        audio_tokens: 0,
        accepted_prediction_tokens: 0,
        rejected_prediction_tokens: 0,
      },
    },
    service_tier: 'default',
    system_fingerprint: null,
  });
}

// ---------------------------------------------------------------- legacy completion
const legacyPrompt = 'Write a haiku about a load balancer at midnight.\n\n';
const legacyAnswer = 'Quiet packets flow\nround robin through sleeping racks\none light blinks, then two';
{
  const prompt = cl100k.encode(legacyPrompt).length;
  const completion = cl100k.encode(legacyAnswer).length;
  writeJson('completion_legacy.request.json', { model: 'gpt-3.5-turbo-instruct', prompt: legacyPrompt, max_tokens: 64 });
  writeJson('completion_legacy.json', {
    id: 'cmpl-BL38kfUq0Ye3nVt5RbX2sMwPj9Co1',
    object: 'text_completion',
    created: 1744380801,
    model: 'gpt-3.5-turbo-instruct:20230824-v2',
    choices: [{ text: legacyAnswer, index: 0, logprobs: null, finish_reason: 'stop' }],
    usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
  });
}

// ---------------------------------------------------------------- embeddings
{
  const input = [
    'Budget exceeded for workflow invoice-triage: daily spend 41.20 USD of a 40 USD limit.',
    'Fallback surge on route chat-default: 23% of requests moved from openai to anthropic in 10 minutes.',
  ];
  const prompt = input.reduce((n, s) => n + cl100k.encode(s).length, 0);
  const vector = () => Array.from({ length: 1536 }, () => Number(((random() - 0.5) * 0.08).toFixed(9)));
  writeJson('embeddings.request.json', { model: 'text-embedding-3-small', input });
  // The API sends embeddings compactly; keep the vectors on one line each.
  const body = {
    object: 'list',
    data: input.map((_, index) => ({ object: 'embedding', index, embedding: vector() })),
    model: 'text-embedding-3-small',
    usage: { prompt_tokens: prompt, total_tokens: prompt },
  };
  write('embeddings.json', JSON.stringify(body) + '\n');
}

// ---------------------------------------------------------------- Responses API
const responsesAnswer =
  'Section 5 says that any contribution you intentionally submit for inclusion in the work is under the terms of this license, without any additional terms, unless you explicitly state otherwise.';
const responsesBase = (status, output, usage, instructions = longPolicy) => ({
  id: 'resp_67f8c2d1a4b88191b7c2e0f3a9d5c46e0b1f2a3c4d5e6f70',
  object: 'response',
  created_at: 1744381010,
  status,
  background: false,
  error: null,
  incomplete_details: null,
  instructions,
  max_output_tokens: null,
  model: 'o4-mini-2025-04-16',
  output,
  parallel_tool_calls: true,
  previous_response_id: null,
  reasoning: { effort: 'medium', summary: null },
  service_tier: 'default',
  store: true,
  temperature: 1.0,
  text: { format: { type: 'text' } },
  tool_choice: 'auto',
  tools: [],
  top_p: 1.0,
  truncation: 'disabled',
  usage,
  user: null,
  metadata: {},
});
{
  const question = 'What does section 5 say about contributions? One sentence.';
  const input = chatPromptTokens(o200k, [
    { role: 'developer', content: longPolicy },
    { role: 'user', content: question },
  ]);
  const visible = o200k.encode(responsesAnswer).length;
  const reasoning = 256;
  const cached = Math.floor((input - 40) / 128) * 128;
  const usage = {
    input_tokens: input,
    input_tokens_details: { cached_tokens: cached },
    output_tokens: visible + reasoning,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: input + visible + reasoning,
  };
  const message = {
    id: 'msg_67f8c2d5f1c48191a1e2b3c4d5e6f7a80b1f2a3c4d5e6f70',
    type: 'message',
    status: 'completed',
    content: [{ type: 'output_text', annotations: [], logprobs: [], text: responsesAnswer }],
    role: 'assistant',
  };
  const reasoningItem = { id: 'rs_67f8c2d2b5e88191c0d1e2f3a4b5c6d70b1f2a3c4d5e6f70', type: 'reasoning', summary: [] };
  writeJson('responses.request.json', { model: 'o4-mini', instructions: longPolicy, input: question });
  writeJson('responses.json', responsesBase('completed', [reasoningItem, message], usage));

}

// ---------------------------------------------------------------- Responses API stream
// A short-instruction request: every lifecycle event repeats the whole response object.
{
  const instructions = 'Answer in one sentence.';
  const question = 'What does an Apache-2.0 contribution license cover?';
  const input = chatPromptTokens(o200k, [
    { role: 'developer', content: instructions },
    { role: 'user', content: question },
  ]);
  const visible = o200k.encode(responsesAnswer).length;
  const reasoning = 128;
  const usage = {
    input_tokens: input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: visible + reasoning,
    output_tokens_details: { reasoning_tokens: reasoning },
    total_tokens: input + visible + reasoning,
  };
  const message = {
    id: 'msg_67f8c9e0b2d48191a7c3e5f1b9d2a4c60b1f2a3c4d5e6f71',
    type: 'message',
    status: 'completed',
    content: [{ type: 'output_text', annotations: [], logprobs: [], text: responsesAnswer }],
    role: 'assistant',
  };
  const reasoningItem = { id: 'rs_67f8c9df41e08191b2d4f6a8c0e2b4d60b1f2a3c4d5e6f71', type: 'reasoning', summary: [] };
  writeJson('responses_stream.request.json', { model: 'o4-mini', instructions, input: question, stream: true });
  const events = [];
  let sequence = 0;
  const emit = (type, fields) => events.push(`event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: sequence++, ...fields })}\n\n`);
  const inProgress = responsesBase('in_progress', [], null, instructions);
  emit('response.created', { response: inProgress });
  emit('response.in_progress', { response: inProgress });
  emit('response.output_item.added', { output_index: 0, item: { ...reasoningItem } });
  emit('response.output_item.done', { output_index: 0, item: reasoningItem });
  emit('response.output_item.added', { output_index: 1, item: { ...message, status: 'in_progress', content: [] } });
  const part = { type: 'output_text', annotations: [], logprobs: [], text: '' };
  emit('response.content_part.added', { item_id: message.id, output_index: 1, content_index: 0, part });
  for (const delta of pieces(o200k, responsesAnswer)) {
    emit('response.output_text.delta', {
      item_id: message.id, output_index: 1, content_index: 0, delta, logprobs: [], obfuscation: 'q3Rt',
    });
  }
  emit('response.output_text.done', { item_id: message.id, output_index: 1, content_index: 0, text: responsesAnswer, logprobs: [] });
  emit('response.content_part.done', { item_id: message.id, output_index: 1, content_index: 0, part: { ...part, text: responsesAnswer } });
  emit('response.output_item.done', { output_index: 1, item: message });
  emit('response.completed', { response: responsesBase('completed', [reasoningItem, message], usage, instructions) });
  write('responses_stream.sse', events.join(''));
}

// ---------------------------------------------------------------- Anthropic message
const anthropicAnswer =
  'The workflow overspent because its nightly batch retried failed requests without backoff: 1,180 retries on the claude-sonnet route account for 62% of yesterday\'s spend. Add exponential backoff and a session cap of 5 USD per batch run.';
{
  const messages = [{ role: 'user', content: 'Why did invoice-triage overspend yesterday, and what should we change?' }];
  const usage = {
    input_tokens: 21,
    cache_creation_input_tokens: 312,
    cache_read_input_tokens: 2048,
    cache_creation: { ephemeral_5m_input_tokens: 312, ephemeral_1h_input_tokens: 0 },
    output_tokens: anthropicTokens(anthropicAnswer),
    service_tier: 'standard',
  };
  writeJson('anthropic_message.request.json', { model: 'claude-sonnet-4-20250514', max_tokens: 1024, messages });
  writeJson('anthropic_message.json', {
    id: 'msg_01XFDUDYJgAACzvnptvVoYEL',
    type: 'message',
    role: 'assistant',
    model: 'claude-sonnet-4-20250514',
    content: [{ type: 'text', text: anthropicAnswer }],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage,
  });
}

// ---------------------------------------------------------------- Anthropic stream (text, then a tool call)
{
  const toolInput = JSON.stringify({ workflow: 'invoice-triage', window: 'daily' });
  const output = anthropicTokens(anthropicAnswer) + anthropicTokens(toolInput) + 12;
  const lines = [];
  const emit = (type, fields) => lines.push(`event: ${type}\ndata: ${JSON.stringify({ type, ...fields })}\n\n`);
  emit('message_start', {
    message: {
      id: 'msg_01Tq8bLm2c9XQw4VhJk7RsNa', type: 'message', role: 'assistant', model: 'claude-sonnet-4-20250514',
      content: [], stop_reason: null, stop_sequence: null,
      usage: {
        input_tokens: 472, cache_creation_input_tokens: 0, cache_read_input_tokens: 1024,
        cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
        output_tokens: 2, service_tier: 'standard',
      },
    },
  });
  emit('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
  lines.push('event: ping\ndata: {"type": "ping"}\n\n');
  const words = pieces(o200k, anthropicAnswer);
  for (let i = 0; i < words.length; i += 3) {
    emit('content_block_delta', { index: 0, delta: { type: 'text_delta', text: words.slice(i, i + 3).join('') } });
  }
  emit('content_block_stop', { index: 0 });
  emit('content_block_start', {
    index: 1, content_block: { type: 'tool_use', id: 'toolu_01D7FLrfh4GYq7yT1ULFeyMV', name: 'get_budget', input: {} },
  });
  emit('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: '' } });
  for (let i = 0; i < toolInput.length; i += 11) {
    emit('content_block_delta', { index: 1, delta: { type: 'input_json_delta', partial_json: toolInput.slice(i, i + 11) } });
  }
  emit('content_block_stop', { index: 1 });
  emit('message_delta', { delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { output_tokens: output } });
  emit('message_stop', {});
  write('anthropic_stream.sse', lines.join(''));
}

// ---------------------------------------------------------------- OpenAI chat stream with include_usage
const chatStreamAnswer =
  'To cap spend per workflow, give each workflow its own API key, set a daily budget on it, and start the budget in observe mode. Watch the would-reject counter for a week, then switch it to enforce once the limit matches real traffic.';
const chatStreamMessages = [
  { role: 'system', content: 'You are a helpful assistant.' },
  { role: 'user', content: 'How do I cap LLM spend per workflow without breaking production?' },
];
const chunk = (choices, usage, extra = {}) =>
  `data: ${JSON.stringify({
    id: 'chatcmpl-BL3C8rTn5Vw0Ya2Xb7Qe4Uk1Js6Dm', object: 'chat.completion.chunk', created: 1744381240,
    model: 'gpt-4o-mini-2024-07-18', service_tier: 'default', system_fingerprint: 'fp_b376dfbbd5',
    choices, usage, ...extra,
  })}\n\n`;
const chatStreamEvents = (() => {
  const events = [chunk([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }], null, { obfuscation: 'Xk2' })];
  for (const content of pieces(o200k, chatStreamAnswer)) {
    events.push(chunk([{ index: 0, delta: { content }, logprobs: null, finish_reason: null }], null, { obfuscation: 'pQ' }));
  }
  events.push(chunk([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], null, { obfuscation: 'r7Vd' }));
  const prompt = chatPromptTokens(o200k, chatStreamMessages);
  const completion = o200k.encode(chatStreamAnswer).length;
  events.push(chunk([], {
    prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion,
    prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
    completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
  }, { obfuscation: 'bN0' }));
  events.push('data: [DONE]\n\n');
  return events;
})();
writeJson('chat_stream.request.json', {
  model: 'gpt-4o-mini', messages: chatStreamMessages, stream: true, stream_options: { include_usage: true },
});
write('chat_stream.sse', chatStreamEvents.join(''));

// Cut after the role chunk and 20 content chunks, in the middle of the next event.
{
  const kept = chatStreamEvents.slice(0, 21).join('');
  const next = chatStreamEvents[21];
  write('chat_stream_truncated.sse', kept + next.slice(0, Math.floor(next.length / 2)));
}

// One chunk is cut short inside its JSON; the stream goes on and ends normally.
{
  const events = [...chatStreamEvents];
  events[5] = events[5].slice(0, events[5].indexOf('"content"') + 14) + '\n\n';
  write('chat_stream_malformed.sse', events.join(''));
}

// ---------------------------------------------------------------- legacy completion stream
{
  const lines = [];
  const legacyChunk = (choices, usage) =>
    `data: ${JSON.stringify({
      id: 'cmpl-BL3F1cDq7Wn4Zb0Ty9Ux3Ks2Lh5Ep', object: 'text_completion', created: 1744381402,
      choices, model: 'gpt-3.5-turbo-instruct:20230824-v2', usage,
    })}\n\n`;
  const tokens = pieces(cl100k, legacyAnswer);
  tokens.forEach((text, i) => {
    lines.push(legacyChunk([{ text, index: 0, logprobs: null, finish_reason: i + 1 === tokens.length ? 'stop' : null }], null));
  });
  const prompt = cl100k.encode(legacyPrompt).length;
  lines.push(legacyChunk([], { prompt_tokens: prompt, completion_tokens: tokens.length, total_tokens: prompt + tokens.length }));
  lines.push('data: [DONE]\n\n');
  write('completion_legacy_stream.sse', lines.join(''));
}
