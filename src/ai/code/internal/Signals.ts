/**
 * Signals as a shell reports them. `effect/process` fails a handle's
 * `exitCode` when a signal ended the process (its error names the signal);
 * the executor turns that back into a result with the shell's exit code,
 * `128 + n`, because that is what a model has seen in terminals.
 */

// Linux numbering (x86, arm); the signals code can die of
const numbers: Readonly<Record<string, number>> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8,
  SIGKILL: 9, SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
  SIGSTKFLT: 16, SIGXCPU: 24, SIGXFSZ: 25, SIGVTALRM: 26, SIGPROF: 27, SIGIO: 29, SIGPWR: 30, SIGSYS: 31
}

/** The shell's exit code for a process ended by `signal`: `128 + n` (137 for `SIGKILL`). */
export const exitCodeOf = (signal: string): number => 128 + (numbers[signal] ?? 0)

/** The signal named in an error of `effect/process` (`... receipt of signal: 'SIGKILL'`), if any. */
export const signalIn = (error: unknown): string | undefined => {
  const texts: Array<string> = []
  let current: unknown = error
  // the name is in the message of the error or of one of its causes
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    if (typeof current === "object") {
      const { message, description, cause, reason } = current as Record<string, unknown>
      for (const text of [message, description]) if (typeof text === "string") texts.push(text)
      current = reason !== undefined && depth === 0 ? reason : cause
    } else {
      texts.push(String(current))
      break
    }
  }
  for (const text of texts) {
    const found = /signal:? '?(SIG[A-Z0-9]+)'?/.exec(text)
    if (found !== null) return found[1]
  }
  return undefined
}
