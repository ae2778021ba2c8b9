// Which runtime runs the program, for the few places where Deno's Node compatibility differs from Node.

export function runningUnderDeno(): boolean {
  return 'Deno' in globalThis;
}
