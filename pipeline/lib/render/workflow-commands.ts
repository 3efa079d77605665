/**
 * Text for a GitHub Actions job log that no input can turn into a workflow command.
 *
 * The runner reads a command from any output line that starts with `::` once leading blanks are
 * trimmed (`::warning title=x::text`), and the legacy form `##[command]` from ANYWHERE in a line
 * (actions/runner, ActionCommand.TryParseV2 and TryParse). So build output, error messages and
 * anything else a manifest or a build can shape is written between `::stop-commands::TOKEN` and
 * `::TOKEN::`, with a random TOKEN the text cannot know, and the values of our own commands are
 * escaped as the runner unescapes them.
 */
import { randomBytes } from "node:crypto";

/** A command's message: the part after the second `::`. */
export function escapeData(text: string): string {
  return text.replaceAll("%", "%25").replaceAll("\r", "%0D").replaceAll("\n", "%0A");
}

/** A command's property value (`title=…`): also `:` and `,`, which end a property. */
export function escapeProperty(text: string): string {
  return escapeData(text).replaceAll(":", "%3A").replaceAll(",", "%2C");
}

/** Whether the runner could read a workflow command in the text. */
export function couldBeCommand(text: string): boolean {
  return /^[ \t]*::/m.test(text) || text.includes("##[");
}

/** A fresh stop token: 32 hex digits. */
export function stopToken(random: (bytes: number) => Buffer = randomBytes): string {
  return random(16).toString("hex");
}

/**
 * The text, line by line, between `::stop-commands::TOKEN` and `::TOKEN::`. The token is drawn
 * until the text does not contain it, so the text cannot resume command processing itself.
 */
export function withoutCommands(text: string, token: () => string = stopToken): string {
  let t = token();
  while (!/^[0-9A-Za-z_-]{16,}$/.test(t) || text.toLowerCase().includes(t.toLowerCase())) t = token();
  const body = text.endsWith("\n") ? text : `${text}\n`;
  return `::stop-commands::${t}\n${body}::${t}::\n`;
}

/** The text as is when no line could be read as a command, otherwise between stop-commands markers. */
export function logSafe(text: string, token: () => string = stopToken): string {
  return couldBeCommand(text) ? withoutCommands(text, token) : text;
}

/** A writer for a job log: every chunk written through it goes through `logSafe`. */
export function logSafeWriter(write: (text: string) => void, token: () => string = stopToken): (text: string) => void {
  return (text) => write(logSafe(text, token));
}
