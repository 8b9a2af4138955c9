/** Reads an environment variable, treating an empty or whitespace-only value as unset. */
export function readEnv(name: string): string | undefined {
  const value = globalThis.process?.env?.[name]?.trim();
  return value ? value : undefined;
}
