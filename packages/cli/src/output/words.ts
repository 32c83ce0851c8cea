// The engine's messages name its methods (`promote()`, `abort()`), written for programs that embed
// it; on a terminal the same advice is a command.

const CONTROL = /\b(promoteFull|promote|abort|resume|retry|pause|skipStep)\(\)/g;
const COMMAND: Record<string, string> = {
  promoteFull: 'kanary promote --full',
  promote: 'kanary promote',
  abort: 'kanary abort',
  resume: 'kanary resume',
  retry: 'kanary retry',
  pause: 'kanary pause',
  skipStep: 'kanary promote',
};

/** `resume() once it has ready pods, or abort()` → `` `kanary resume` once …, or `kanary abort` ``. */
export function inCliTerms(text: string): string {
  return text.replace(CONTROL, (_, name: string) => `\`${COMMAND[name]}\``);
}
