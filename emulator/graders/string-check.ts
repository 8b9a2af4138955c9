/**
 * `string_check`: 1 when the check holds, else 0. `eq` / `ne` compare exactly (case-sensitive); `like` is 1 when
 * the input contains the reference, `ilike` the same ignoring case (dpo-rft.md §4).
 */
import type { z } from 'zod';
import type { StringCheckGraderSchema } from '../contract/graders';
import { type GradeOutcome, scored, templateFailure } from './outcome';
import { renderTemplate, type TemplateScope } from './template';

export type StringCheckGrader = z.infer<typeof StringCheckGraderSchema>;

export function stringCheck(
  operation: StringCheckGrader['operation'],
  input: string,
  reference: string,
): boolean {
  switch (operation) {
    case 'eq':
      return input === reference;
    case 'ne':
      return input !== reference;
    case 'like':
      return input.includes(reference);
    case 'ilike':
      return input.toLowerCase().includes(reference.toLowerCase());
  }
}

export function gradeStringCheck(grader: StringCheckGrader, scope: TemplateScope): GradeOutcome {
  try {
    const input = renderTemplate(grader.input, scope);
    const reference = renderTemplate(grader.reference, scope);
    return scored(stringCheck(grader.operation, input, reference) ? 1 : 0);
  } catch (error) {
    return templateFailure(error);
  }
}
