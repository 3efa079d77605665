/**
 * Tails a CloudWatch Logs stream with GetLogEvents and `nextForwardToken`. The only module that
 * imports @aws-sdk/client-cloudwatch-logs. The stream of a build exists only from its
 * PROVISIONING phase on, so "not found" means "no lines yet".
 */
import { CloudWatchLogsClient, GetLogEventsCommand } from "@aws-sdk/client-cloudwatch-logs";
import { clientConfig } from "./clients.ts";
import type { AwsClientOptions } from "./clients.ts";
import { isNotFound, toPipelineError } from "./errors.ts";

export interface LogCursor {
  readonly group: string;
  readonly stream: string;
  /** The last nextForwardToken; undefined before the first read. */
  token?: string;
}

/** Pages read per call to `readNew`, so one chatty build cannot hold up a polling tick. */
const MAX_PAGES = 10;

/** Splits event messages into lines (CodeBuild's events end with a newline, some hold several). */
export function eventLines(message: string | undefined): string[] {
  if (!message) return [];
  const lines = message.replace(/\r\n/g, "\n").split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

export class LogTailer {
  private readonly client: CloudWatchLogsClient;

  constructor(
    readonly region: string,
    options: AwsClientOptions = {},
  ) {
    this.client = new CloudWatchLogsClient(clientConfig("logs", region, options));
  }

  /** The lines written since the cursor, oldest first; advances the cursor. */
  async readNew(cursor: LogCursor): Promise<string[]> {
    const lines: string[] = [];
    for (let page = 0; page < MAX_PAGES; page++) {
      let out;
      try {
        out = await this.client.send(
          new GetLogEventsCommand({
            logGroupName: cursor.group,
            logStreamName: cursor.stream,
            // Without a token, GetLogEvents starts from the newest events unless told otherwise.
            startFromHead: true,
            ...(cursor.token ? { nextToken: cursor.token } : {}),
          }),
        );
      } catch (error) {
        if (isNotFound(error)) return lines;
        throw toPipelineError(error, {
          service: "CloudWatch Logs",
          operation: "GetLogEvents",
          resource: `${cursor.group}/${cursor.stream}`,
          region: this.region,
          code: "BUILD_FAILED",
        });
      }
      for (const event of out.events ?? []) lines.push(...eventLines(event.message));
      // The token stays the same once the end of the stream is reached.
      const unchanged = out.nextForwardToken === undefined || out.nextForwardToken === cursor.token;
      if (out.nextForwardToken) cursor.token = out.nextForwardToken;
      if (unchanged || (out.events ?? []).length === 0) break;
    }
    return lines;
  }

  destroy(): void {
    this.client.destroy();
  }
}
