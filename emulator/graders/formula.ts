/**
 * The `calculate_output` formula of a `multi` grader: numbers, the grader keys, `+ - * / ^`, parentheses and the
 * functions min max abs floor ceil exp sqrt log (natural). Parsed by mathjs; the parse tree is checked against that
 * list before mathjs evaluates it, so nothing else (assignments, other functions, units, matrices) can run.
 */
import { type MathNode, parse } from 'mathjs';

const FUNCTIONS = new Set(['min', 'max', 'abs', 'floor', 'ceil', 'exp', 'sqrt', 'log']);
const OPERATORS = new Set(['add', 'subtract', 'multiply', 'divide', 'pow', 'unaryMinus', 'unaryPlus']);

export class FormulaError extends Error {
  override readonly name = 'FormulaError';
}

export interface Formula {
  /** The grader keys the formula reads. */
  names: Set<string>;
  evaluate(values: Readonly<Record<string, number>>): number;
}

function check(node: MathNode, names: Set<string>): void {
  switch (node.type) {
    case 'ConstantNode': {
      const value = (node as unknown as { value: unknown }).value;
      if (typeof value !== 'number')
        throw new FormulaError(`only numbers may appear as constants, not ${node.toString()}`);
      return;
    }
    case 'SymbolNode':
      names.add((node as unknown as { name: string }).name);
      return;
    case 'ParenthesisNode':
      check((node as unknown as { content: MathNode }).content, names);
      return;
    case 'OperatorNode': {
      const operator = node as unknown as { fn: string; op: string; args: MathNode[] };
      if (!OPERATORS.has(operator.fn)) throw new FormulaError(`the operator "${operator.op}" is not allowed`);
      for (const arg of operator.args) check(arg, names);
      return;
    }
    case 'FunctionNode': {
      const call = node as unknown as { fn: MathNode; args: MathNode[] };
      const name = call.fn.type === 'SymbolNode' ? (call.fn as unknown as { name: string }).name : undefined;
      if (name === undefined || !FUNCTIONS.has(name)) {
        throw new FormulaError(
          `the function ${call.fn.toString()} is not allowed; use ${[...FUNCTIONS].join(', ')}`,
        );
      }
      if (call.args.length === 0) throw new FormulaError(`${name}() needs an argument`);
      for (const arg of call.args) check(arg, names);
      return;
    }
    default:
      throw new FormulaError(`"${node.toString()}" is not allowed in a formula`);
  }
}

/** Parses and checks a formula; throws {@link FormulaError} when it is malformed or uses what is not allowed. */
export function parseFormula(text: string): Formula {
  let tree: MathNode;
  try {
    tree = parse(text);
  } catch (error) {
    throw new FormulaError(`cannot parse the formula "${text}": ${(error as Error).message}`);
  }
  const names = new Set<string>();
  check(tree, names);
  const compiled = tree.compile();
  return {
    names,
    evaluate(values) {
      const scope = new Map<string, number>(Object.entries(values));
      const result: unknown = compiled.evaluate(scope);
      if (typeof result !== 'number' || !Number.isFinite(result)) {
        throw new FormulaError(`the formula "${text}" did not give a finite number (${String(result)})`);
      }
      return result;
    },
  };
}
