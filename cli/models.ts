/** `tunekit models list`. */
import { type Command, Option } from 'commander';
import type { Model } from '../src/index';
import { createClient } from './client';
import { printJson, relativeTime, table } from './output';

export function registerModels(program: Command): void {
  const group = program.command('models').description('Models the server offers');
  group
    .command('list')
    .description('List base and fine-tuned models')
    .addOption(new Option('--json', 'print the API list as one JSON document on stdout').default(false))
    .addHelpText('after', '\nExample:\n  tunekit models list')
    .action(async (options: { json: boolean }) => {
      const models: Model[] = [];
      for await (const model of createClient().models.list()) models.push(model);
      if (options.json) return printJson({ object: 'list', data: models });
      const rows = models.map((m) => [m.id, m.owned_by, relativeTime(m.created)]);
      process.stdout.write(`${table(['ID', 'OWNED BY', 'CREATED'], rows)}\n`);
    });
}
