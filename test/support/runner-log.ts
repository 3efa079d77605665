/**
 * Reads a job log as the GitHub Actions runner reads it for workflow commands
 * (actions/runner ActionCommandManager.TryProcessCommand): `::name props::data` at the start of a
 * line once leading blanks are trimmed, the legacy `##[name props]data` anywhere in a line, and
 * `::stop-commands::TOKEN`, which ignores every command until one named TOKEN.
 */

const REGISTERED = new Set([
  "set-env", "set-output", "save-state", "add-mask", "add-path", "add-matcher", "remove-matcher",
  "debug", "warning", "error", "notice", "group", "endgroup", "echo", "stop-commands",
]);

export interface RunnerCommand {
  readonly name: string;
  readonly props: string;
  readonly data: string;
  /** The line it came from. */
  readonly line: string;
}

function parse(line: string, registered: ReadonlySet<string>): RunnerCommand | undefined {
  const trimmed = line.trimStart();
  if (trimmed.startsWith("::")) {
    const end = trimmed.indexOf("::", 2);
    if (end >= 0) {
      const info = trimmed.slice(2, end);
      const space = info.indexOf(" ");
      const name = space < 0 ? info : info.slice(0, space);
      if (registered.has(name.toLowerCase())) return { name, props: space < 0 ? "" : info.slice(space + 1), data: trimmed.slice(end + 2), line };
    }
  }
  const at = line.indexOf("##[");
  if (at >= 0) {
    const close = line.indexOf("]", at);
    if (close >= 0) {
      const info = line.slice(at + 3, close);
      const space = info.indexOf(" ");
      const name = space < 0 ? info : info.slice(0, space);
      if (registered.has(name.toLowerCase())) return { name, props: space < 0 ? "" : info.slice(space + 1), data: line.slice(close + 1), line };
    }
  }
  return undefined;
}

/** The commands the runner would carry out for this log, in order (stop/resume markers included). */
export function runnerCommands(log: string): RunnerCommand[] {
  const registered = new Set(REGISTERED);
  const done: RunnerCommand[] = [];
  let stopToken: string | undefined;
  for (const line of log.split(/\r?\n/)) {
    const command = parse(line, registered);
    if (!command) continue;
    if (stopToken !== undefined) {
      if (command.name.toLowerCase() === stopToken.toLowerCase()) {
        registered.delete(stopToken.toLowerCase());
        stopToken = undefined;
        done.push(command);
      }
      continue;
    }
    if (command.name === "stop-commands") {
      stopToken = command.data;
      registered.add(stopToken.toLowerCase());
    }
    done.push(command);
  }
  return done;
}

/** The commands that are not stop/resume markers: what would show as annotations, groups, outputs … */
export function effectiveCommands(log: string): RunnerCommand[] {
  const all = runnerCommands(log);
  const tokens = new Set(all.filter((c) => c.name === "stop-commands").map((c) => c.data.toLowerCase()));
  return all.filter((c) => c.name !== "stop-commands" && !tokens.has(c.name.toLowerCase()));
}
