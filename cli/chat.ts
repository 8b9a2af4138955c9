/** `tunekit chat MODEL MESSAGE`: one user message, the answer streamed to stdout. */
import { type Command, Option } from 'commander';
import type { ChatCompletionCreateParams } from '../src/index';
import { createClient } from './client';
import { integerOption, numberOption, printJson } from './output';

interface ChatOptions {
  system?: string;
  maxTokens?: number;
  temperature?: number;
  json: boolean;
}

export function registerChat(program: Command): void {
  program
    .command('chat')
    .description('Ask a model one question; the answer streams to stdout')
    .argument('<model>', 'model name, e.g. a fine-tuned ft:… model')
    .argument('<message>', 'the user message')
    .option('--system <text>', 'a system message before it (default: none)')
    .option('--max-tokens <n>', 'longest answer in tokens (default: the server’s)', integerOption(1))
    .option('--temperature <x>', 'sampling temperature; 0 is greedy (default: the server’s)', numberOption)
    .addOption(
      new Option('--json', 'print the chat.completion object (not streamed) on stdout').default(false),
    )
    .addHelpText(
      'after',
      '\nExample:\n  tunekit chat ft:tunekit-tiny-chat:local::abc12345 "Capital of Peru?" --temperature 0',
    )
    .action(async (model: string, message: string, options: ChatOptions) => {
      const client = createClient();
      const body: ChatCompletionCreateParams = {
        model,
        messages: [
          ...(options.system !== undefined ? [{ role: 'system' as const, content: options.system }] : []),
          { role: 'user', content: message },
        ],
        ...(options.maxTokens !== undefined ? { max_tokens: options.maxTokens } : {}),
        ...(options.temperature !== undefined ? { temperature: options.temperature } : {}),
      };
      if (options.json) {
        printJson(await client.chat.completions.create({ ...body, stream: false }));
        return;
      }
      const stream = await client.chat.completions.create({ ...body, stream: true });
      for await (const chunk of stream) process.stdout.write(chunk.choices[0]?.delta.content ?? '');
      process.stdout.write('\n');
    });
}
