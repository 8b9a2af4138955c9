/**
 * A model's tokenizer and chat template, read from its Hugging Face folder: tokenizer.json through
 * @huggingface/tokenizers, the chat template (chat_template.jinja, else tokenizer_config.json's `chat_template`)
 * rendered with @huggingface/jinja, as transformers' `apply_chat_template` does.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import type { ChatMessage } from './formats';

/** A model folder whose tokenizer or template cannot be used. */
export class TokenizerLoadError extends Error {
  override readonly name = 'TokenizerLoadError';
}

type SpecialToken = string | { content?: string } | null | undefined;

function tokenText(token: SpecialToken): string | undefined {
  if (typeof token === 'string') return token;
  if (token && typeof token.content === 'string') return token.content;
  return undefined;
}

function readJson(file: string): Record<string, unknown> {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new TokenizerLoadError(`${file}: ${(error as Error).message}`);
  }
}

/** The chat template text: a separate chat_template.jinja, else `chat_template` (a string or named templates). */
function chatTemplateSource(
  dir: string,
  config: Record<string, unknown>,
  withTools: boolean,
): string | undefined {
  const jinjaFile = path.join(dir, 'chat_template.jinja');
  if (fs.existsSync(jinjaFile)) return fs.readFileSync(jinjaFile, 'utf8');
  const value = config.chat_template;
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) {
    const named = new Map(
      value.map((entry) => [(entry as { name?: string }).name, (entry as { template?: string }).template]),
    );
    return (withTools ? named.get('tool_use') : undefined) ?? named.get('default') ?? undefined;
  }
  return undefined;
}

export interface RenderOptions {
  tools?: unknown[] | undefined;
  addGenerationPrompt: boolean;
}

export class ModelTokenizer {
  readonly eosTokenId: number | undefined;
  readonly vocabSize: number;
  private readonly tokenizer: Tokenizer;
  private readonly templates = new Map<boolean, Template | null>();
  private readonly specials: Record<string, string>;

  private constructor(
    readonly dir: string,
    tokenizerJson: Record<string, unknown>,
    private readonly config: Record<string, unknown>,
  ) {
    try {
      this.tokenizer = new Tokenizer(tokenizerJson, config);
    } catch (error) {
      throw new TokenizerLoadError(`${path.join(dir, 'tokenizer.json')}: ${(error as Error).message}`);
    }
    this.specials = {};
    for (const key of ['bos_token', 'eos_token', 'pad_token', 'unk_token']) {
      const text = tokenText(config[key] as SpecialToken);
      if (text !== undefined) this.specials[key] = text;
    }
    const eos = this.specials.eos_token;
    this.eosTokenId = eos === undefined ? undefined : this.tokenizer.token_to_id(eos);
    this.vocabSize = this.tokenizer.get_vocab(true).size;
  }

  /** Reads tokenizer.json and tokenizer_config.json from a model folder. */
  static load(dir: string): ModelTokenizer {
    const tokenizerFile = path.join(dir, 'tokenizer.json');
    if (!fs.existsSync(tokenizerFile)) throw new TokenizerLoadError(`${tokenizerFile}: not found`);
    const configFile = path.join(dir, 'tokenizer_config.json');
    const config = fs.existsSync(configFile) ? readJson(configFile) : {};
    return new ModelTokenizer(dir, readJson(tokenizerFile), config);
  }

  /** Token ids of `text`; `addSpecialTokens` applies the tokenizer's post-processor (e.g. a BOS token). */
  encode(text: string, addSpecialTokens = false): number[] {
    return this.tokenizer.encode(text, { add_special_tokens: addSpecialTokens }).ids;
  }

  decode(ids: number[], skipSpecialTokens = false): string {
    if (ids.length === 0) return '';
    return this.tokenizer.decode(ids, { skip_special_tokens: skipSpecialTokens });
  }

  hasChatTemplate(): boolean {
    return this.template(false) !== null;
  }

  /** Renders messages with the chat template, as transformers' `apply_chat_template(tokenize=False)`. */
  render(messages: ChatMessage[], options: RenderOptions): string {
    const withTools = (options.tools?.length ?? 0) > 0;
    const template = this.template(withTools);
    if (!template) {
      throw new TokenizerLoadError(
        `${path.join(this.dir, 'tokenizer_config.json')}: the model has no chat template, so chat data cannot be used`,
      );
    }
    const plain = messages.map(({ weight: _weight, ...message }) => message);
    return template.render({
      ...this.specials,
      messages: plain,
      tools: withTools ? options.tools : undefined,
      add_generation_prompt: options.addGenerationPrompt,
    });
  }

  /** Whether the template reads a variable (`tools`, `tool_calls`), to decide whether to spell it into the text. */
  templateMentions(name: string): boolean {
    return (chatTemplateSource(this.dir, this.config, true) ?? '').includes(name);
  }

  private template(withTools: boolean): Template | null {
    let template = this.templates.get(withTools);
    if (template === undefined) {
      const source = chatTemplateSource(this.dir, this.config, withTools);
      try {
        template = source === undefined ? null : new Template(source);
      } catch (error) {
        throw new TokenizerLoadError(
          `${this.dir}: the chat template does not parse: ${(error as Error).message}`,
        );
      }
      this.templates.set(withTools, template);
    }
    return template;
  }
}
