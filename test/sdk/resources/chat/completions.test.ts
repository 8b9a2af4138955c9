import { HttpResponse, http } from 'msw';
import { describe, expect, it } from 'vitest';
import { APIError, type ChatCompletionChunk, Stream } from '../../../../src/index';
import { chatCompletion } from '../../fixtures';
import { BASE_URL, json, makeClient, sseHeaders, sseStream, useMswServer } from '../../helpers';

const server = useMswServer();
const URL = `${BASE_URL}/chat/completions`;

function chunk(content: string, finish: 'stop' | null = null): ChatCompletionChunk {
  return {
    id: 'chatcmpl-1',
    object: 'chat.completion.chunk',
    created: 1_700_000_000,
    model: 'tiny-llama',
    choices: [{ index: 0, delta: { content }, finish_reason: finish }],
  };
}

const data = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;

describe('chat.completions.create', () => {
  it('POST /chat/completions returns a ChatCompletion', async () => {
    let body: unknown;
    server.use(
      http.post(URL, async ({ request }) => {
        body = await request.json();
        return json(chatCompletion('Hello!'));
      }),
    );
    const params = {
      model: 'ft:tiny-llama:org::abc12345',
      messages: [{ role: 'user' as const, content: 'Hi' }],
      seed: 3,
      stop: ['\n'],
      logprobs: true,
      top_logprobs: 2,
    };
    const completion = await makeClient().chat.completions.create(params);
    expect(body).toEqual(params);
    expect(completion.choices[0]?.message.content).toBe('Hello!');
  });

  it('with stream: true yields the chunks until [DONE]', async () => {
    let body: { stream?: boolean } = {};
    server.use(
      http.post(URL, async ({ request }) => {
        body = (await request.json()) as { stream?: boolean };
        return new HttpResponse(
          sseStream([
            data(chunk('Hel')),
            data(chunk('lo')),
            data(chunk('', 'stop')),
            'data: [DONE]\n\n',
            data(chunk('late')),
          ]),
          { headers: sseHeaders },
        );
      }),
    );
    const stream = await makeClient().chat.completions.create({
      model: 'tiny-llama',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    expect(stream).toBeInstanceOf(Stream);
    expect(body.stream).toBe(true);
    let text = '';
    const finishes: Array<string | null> = [];
    for await (const piece of stream) {
      text += piece.choices[0]?.delta.content ?? '';
      finishes.push(piece.choices[0]?.finish_reason ?? null);
    }
    expect(text).toBe('Hello');
    expect(finishes).toEqual([null, null, 'stop']);
  });

  it('controller.abort() ends the stream quietly', async () => {
    server.use(
      http.post(URL, () => {
        const encoder = new TextEncoder();
        const body = new ReadableStream({
          start(controller) {
            controller.enqueue(encoder.encode(data(chunk('a'))));
            controller.enqueue(encoder.encode(data(chunk('b'))));
          },
        });
        return new HttpResponse(body, { headers: sseHeaders });
      }),
    );
    const stream = await makeClient().chat.completions.create({
      model: 'tiny-llama',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const seen: string[] = [];
    for await (const piece of stream) {
      seen.push(piece.choices[0]?.delta.content ?? '');
      stream.controller.abort();
    }
    expect(seen).toEqual(['a']);
    expect(stream.controller.signal.aborted).toBe(true);
  });

  it('surfaces an error event as an APIError', async () => {
    server.use(
      http.post(
        URL,
        () =>
          new HttpResponse(
            sseStream([
              data(chunk('a')),
              data({ error: { message: 'engine crashed', type: 'server_error', code: 'engine' } }),
            ]),
            { headers: sseHeaders },
          ),
      ),
    );
    const stream = await makeClient().chat.completions.create({
      model: 'tiny-llama',
      messages: [{ role: 'user', content: 'Hi' }],
      stream: true,
    });
    const seen: string[] = [];
    const iterate = async () => {
      for await (const piece of stream) seen.push(piece.choices[0]?.delta.content ?? '');
    };
    const err = await iterate().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(APIError);
    expect((err as APIError).message).toBe('engine crashed');
    expect((err as APIError).code).toBe('engine');
    expect(seen).toEqual(['a']);
  });

  it('a stream can be iterated only once', async () => {
    server.use(
      http.post(URL, () => new HttpResponse(sseStream(['data: [DONE]\n\n']), { headers: sseHeaders })),
    );
    const stream = await makeClient().chat.completions.create({
      model: 'm',
      messages: [{ role: 'user', content: 'x' }],
      stream: true,
    });
    for await (const _ of stream) {
      // drain
    }
    await expect(stream[Symbol.asyncIterator]().next()).rejects.toThrow(/consumed/);
  });
});
