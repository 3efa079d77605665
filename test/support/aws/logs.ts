/**
 * A CloudWatch Logs emulator (JSON 1.1, `Logs_20140328.*`) for GetLogEvents, with AWS's token
 * semantics: `f/…` tokens read forward, `b/…` backward; at the end of a stream the forward token
 * comes back unchanged; without a token, `startFromHead: false` (the default) returns the newest
 * events. Streams are written directly by the CodeBuild emulator (`append`).
 */
import { ApiError, JsonRpcEmulator } from "./http.ts";
import type { EmulatorRequest, EmulatorResponse } from "./http.ts";

interface LogEvent {
  readonly timestamp: number;
  readonly ingestionTime: number;
  readonly message: string;
}

const MAX_EVENTS = 10_000;

function token(direction: "f" | "b", position: number): string {
  return `${direction}/${String(position).padStart(56, "0")}/s`;
}

function parseToken(value: string): { direction: "f" | "b"; position: number } {
  const match = /^([fb])\/(\d{56})\/s$/.exec(value);
  if (!match) throw new ApiError(400, "InvalidParameterException", "The specified nextToken is invalid.");
  return { direction: match[1] as "f" | "b", position: Number(match[2]) };
}

export class LogsEmulator extends JsonRpcEmulator {
  readonly signingName = "logs";
  protected readonly targetPrefix = "Logs_20140328";
  /** region → group → stream → events */
  private readonly groups = new Map<string, Map<string, Map<string, LogEvent[]>>>();

  createStream(region: string, group: string, stream: string): void {
    let groups = this.groups.get(region);
    if (!groups) this.groups.set(region, (groups = new Map()));
    let streams = groups.get(group);
    if (!streams) groups.set(group, (streams = new Map()));
    if (!streams.has(stream)) streams.set(stream, []);
  }

  append(region: string, group: string, stream: string, messages: readonly string[], now = Date.now()): void {
    this.createStream(region, group, stream);
    const events = this.groups.get(region)!.get(group)!.get(stream)!;
    for (const message of messages) events.push({ timestamp: now, ingestionTime: now, message });
  }

  events(region: string, group: string, stream: string): readonly string[] {
    return (this.groups.get(region)?.get(group)?.get(stream) ?? []).map((e) => e.message);
  }

  protected handle(req: EmulatorRequest, operation: string): EmulatorResponse {
    switch (operation) {
      case "GetLogEvents":
        return this.getLogEvents(req);
      default:
        throw new ApiError(400, "UnknownOperationException", `the emulator does not implement ${operation}`);
    }
  }

  private getLogEvents(req: EmulatorRequest): EmulatorResponse {
    const input = this.input(req);
    const identifier = (input.logGroupName ?? input.logGroupIdentifier) as string | undefined;
    const streamName = input.logStreamName as string | undefined;
    if (!identifier || !streamName) throw new ApiError(400, "InvalidParameterException", "logGroupName and logStreamName are required");
    const group = identifier.startsWith("arn:") ? identifier.split(":log-group:")[1]!.replace(/:\*$/, "") : identifier;
    const streams = this.groups.get(this.region(req))?.get(group);
    if (!streams) throw new ApiError(400, "ResourceNotFoundException", "The specified log group does not exist.");
    const events = streams.get(streamName);
    if (!events) throw new ApiError(400, "ResourceNotFoundException", "The specified log stream does not exist.");
    const limit = Math.min(MAX_EVENTS, Number(input.limit ?? MAX_EVENTS));
    let start: number;
    let end: number;
    if (typeof input.nextToken === "string") {
      const { direction, position } = parseToken(input.nextToken);
      if (direction === "f") {
        start = Math.min(position, events.length);
        end = Math.min(events.length, start + limit);
      } else {
        end = Math.min(position, events.length);
        start = Math.max(0, end - limit);
      }
    } else if (input.startFromHead === true) {
      start = 0;
      end = Math.min(events.length, limit);
    } else {
      end = events.length;
      start = Math.max(0, end - limit);
    }
    return this.json({
      events: events.slice(start, end).map((e) => ({ timestamp: e.timestamp, message: e.message, ingestionTime: e.ingestionTime })),
      nextForwardToken: token("f", end),
      nextBackwardToken: token("b", start),
    });
  }

  protected internalError(): ApiError {
    return new ApiError(500, "ServiceUnavailableException", "The service cannot complete the request.");
  }
}
