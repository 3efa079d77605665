/**
 * A Systems Manager Parameter Store emulator (JSON 1.1, `X-Amz-Target: AmazonSSM.*`) for the
 * calls the pipeline makes: PutParameter, GetParametersByPath, DeleteParameter,
 * ListTagsForResource (and GetParameter, AddTagsToResource for tests). As in AWS: names follow
 * the naming rules (characters, 1011 characters, 15 levels, no `aws`/`ssm` prefix); a put of an
 * existing name without `Overwrite` is ParameterAlreadyExists, and `Tags` with `Overwrite` is
 * refused; an overwrite keeps the tags and bumps the version; GetParametersByPath pages with
 * NextToken at most 10 at a time (fewer when `pageSize` says so, as AWS may return short pages);
 * deleting a missing name is ParameterNotFound. Errors carry `__type` in a JSON body, and
 * throttling is a 400 ThrottlingException.
 */
import { ApiError, JsonRpcEmulator } from "./http.ts";
import type { EmulatorRequest, EmulatorResponse } from "./http.ts";

export interface EmulatedParameter {
  readonly name: string;
  value: string;
  version: number;
  readonly type: string;
  tags: Map<string, string>;
  lastModified: Date;
}

const NAME_RE = /^[A-Za-z0-9_.\-/]+$/;
const NAME_MAX = 1011;
const DEPTH_MAX = 15;
const VALUE_MAX = 4096;
const PAGE_MAX = 10;

function encodeToken(after: string): string {
  return Buffer.from(JSON.stringify({ after })).toString("base64url");
}

function decodeToken(token: string): string {
  try {
    return (JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as { after: string }).after;
  } catch {
    throw new ApiError(400, "InvalidNextToken", "The specified token isn't valid.");
  }
}

export class SsmEmulator extends JsonRpcEmulator {
  readonly signingName = "ssm";
  protected readonly targetPrefix = "AmazonSSM";
  readonly account: string;
  /** Largest page GetParametersByPath returns, whatever MaxResults asks (AWS may return fewer). */
  pageSize = PAGE_MAX;
  private readonly regions = new Map<string, Map<string, EmulatedParameter>>();
  private readonly deniedOperations = new Set<string>();

  constructor(options: { account?: string } = {}) {
    super();
    this.account = options.account ?? "123456789012";
  }

  /** Requests for these operations get 400 AccessDeniedException. */
  denyAccess(...operations: string[]): void {
    for (const op of operations) this.deniedOperations.add(op);
  }

  allowAll(): void {
    this.deniedOperations.clear();
  }

  private store(region: string): Map<string, EmulatedParameter> {
    let byName = this.regions.get(region);
    if (!byName) this.regions.set(region, (byName = new Map()));
    return byName;
  }

  /** A parameter as it is now (for assertions), or undefined. */
  parameter(region: string, name: string): EmulatedParameter | undefined {
    return this.regions.get(region)?.get(name);
  }

  /** Every name in a region, sorted. */
  names(region: string): string[] {
    return [...(this.regions.get(region)?.keys() ?? [])].sort();
  }

  /** Puts a parameter directly, as someone else would (no tags unless given). */
  seed(region: string, name: string, value: string, tags: Readonly<Record<string, string>> = {}): EmulatedParameter {
    const p: EmulatedParameter = { name, value, version: 1, type: "String", tags: new Map(Object.entries(tags)), lastModified: new Date() };
    this.store(region).set(name, p);
    return p;
  }

  private arn(region: string, name: string): string {
    return `arn:aws:ssm:${region}:${this.account}:parameter${name.startsWith("/") ? "" : "/"}${name}`;
  }

  protected handle(req: EmulatorRequest, operation: string): EmulatorResponse {
    if (this.deniedOperations.has(operation)) {
      throw new ApiError(400, "AccessDeniedException", `User: arn:aws:sts::${this.account}:assumed-role/test is not authorized to perform: ssm:${operation}`);
    }
    const region = this.region(req);
    const input = this.input(req);
    switch (operation) {
      case "PutParameter":
        return this.put(region, input);
      case "GetParametersByPath":
        return this.byPath(region, input);
      case "GetParameter":
        return this.get(region, input);
      case "DeleteParameter":
        return this.remove(region, input);
      case "ListTagsForResource":
        return this.listTags(region, input);
      case "AddTagsToResource":
        return this.addTags(region, input);
      default:
        throw new ApiError(400, "UnknownOperationException", `the emulator does not implement ${operation}`);
    }
  }

  private checkName(name: unknown): string {
    if (typeof name !== "string" || name.length === 0) throw new ApiError(400, "ValidationException", "1 validation error detected: Value null at 'name' failed to satisfy constraint: Member must not be null");
    if (name.length > NAME_MAX) throw new ApiError(400, "ValidationException", `1 validation error detected: Value at 'name' failed to satisfy constraint: Member must have length less than or equal to ${NAME_MAX}`);
    if (!NAME_RE.test(name)) throw new ApiError(400, "ValidationException", "Parameter name: can't be prefixed with \"aws\" or \"ssm\" (case-insensitive). If formed as a path, it can consist of sub-paths divided by slash symbol; each sub-path can be formed as a mix of letters, numbers and the following 3 symbols .-_");
    if (/^\/?(aws|ssm)/i.test(name)) throw new ApiError(400, "ValidationException", "No access to reserved parameter name: " + name + ".");
    if (name.split("/").length - 1 > DEPTH_MAX) throw new ApiError(400, "HierarchyLevelLimitExceededException", "Parameter name hierarchy exceeded maximum limit 15");
    return name;
  }

  private find(region: string, name: string): EmulatedParameter {
    const p = this.store(region).get(name);
    if (!p) throw new ApiError(400, "ParameterNotFound", "");
    return p;
  }

  private view(region: string, p: EmulatedParameter) {
    return { Name: p.name, Type: p.type, Value: p.value, Version: p.version, LastModifiedDate: p.lastModified.getTime() / 1000, ARN: this.arn(region, p.name), DataType: "text" };
  }

  private put(region: string, input: Record<string, unknown>): EmulatorResponse {
    const name = this.checkName(input.Name);
    const value = input.Value;
    if (typeof value !== "string" || value.length === 0 || value.length > VALUE_MAX) {
      throw new ApiError(400, "ValidationException", `1 validation error detected: Value at 'value' failed to satisfy constraint: Member must have length between 1 and ${VALUE_MAX}`);
    }
    const type = (input.Type as string | undefined) ?? undefined;
    const tags = (input.Tags as { Key: string; Value: string }[] | undefined) ?? undefined;
    const overwrite = input.Overwrite === true;
    if (tags && overwrite) {
      throw new ApiError(400, "ValidationException", "Invalid request: tags and overwrite can't be used together. To create a parameter with tags, please remove overwrite flag. To update tags for an existing parameter, please use AddTagsToResource or RemoveTagsFromResource.");
    }
    const existing = this.store(region).get(name);
    if (existing) {
      if (!overwrite) throw new ApiError(400, "ParameterAlreadyExists", "The parameter already exists. To overwrite this value, set the overwrite option in the request to true.");
      existing.value = value;
      existing.version += 1;
      existing.lastModified = new Date();
      return this.json({ Version: existing.version, Tier: "Standard" });
    }
    if (type !== "String" && type !== "StringList" && type !== "SecureString") {
      throw new ApiError(400, "ValidationException", "A parameter type is required when you create a parameter.");
    }
    const p: EmulatedParameter = { name, value, version: 1, type, tags: new Map((tags ?? []).map((t) => [t.Key, t.Value])), lastModified: new Date() };
    this.store(region).set(name, p);
    return this.json({ Version: 1, Tier: "Standard" });
  }

  private get(region: string, input: Record<string, unknown>): EmulatorResponse {
    return this.json({ Parameter: this.view(region, this.find(region, String(input.Name ?? ""))) });
  }

  private byPath(region: string, input: Record<string, unknown>): EmulatorResponse {
    const path = input.Path;
    if (typeof path !== "string" || !path.startsWith("/")) throw new ApiError(400, "ValidationException", "The parameter doesn't meet the parameter name requirements. The parameter name must begin with a forward slash \"/\".");
    const max = input.MaxResults === undefined ? PAGE_MAX : Number(input.MaxResults);
    if (!Number.isInteger(max) || max < 1 || max > PAGE_MAX) {
      throw new ApiError(400, "ValidationException", `1 validation error detected: Value '${String(input.MaxResults)}' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to ${PAGE_MAX}`);
    }
    const base = path.endsWith("/") ? path : `${path}/`;
    const recursive = input.Recursive === true;
    const matching = [...this.store(region).values()]
      .filter((p) => p.name.startsWith(base) && (recursive || !p.name.slice(base.length).includes("/")))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const after = typeof input.NextToken === "string" ? decodeToken(input.NextToken) : undefined;
    const rest = after === undefined ? matching : matching.filter((p) => p.name > after);
    const page = rest.slice(0, Math.min(max, this.pageSize));
    const more = rest.length > page.length;
    return this.json({ Parameters: page.map((p) => this.view(region, p)), ...(more ? { NextToken: encodeToken(page.at(-1)!.name) } : {}) });
  }

  private remove(region: string, input: Record<string, unknown>): EmulatorResponse {
    const name = String(input.Name ?? "");
    this.find(region, name);
    this.store(region).delete(name);
    return this.json({});
  }

  private tagged(region: string, input: Record<string, unknown>): EmulatedParameter {
    if (input.ResourceType !== "Parameter") throw new ApiError(400, "InvalidResourceType", "The resource type isn't valid.");
    const p = this.store(region).get(String(input.ResourceId ?? ""));
    if (!p) throw new ApiError(400, "InvalidResourceId", "The resource ID isn't valid. Verify that you entered the correct ID and try again.");
    return p;
  }

  private listTags(region: string, input: Record<string, unknown>): EmulatorResponse {
    const p = this.tagged(region, input);
    return this.json({ TagList: [...p.tags].map(([Key, Value]) => ({ Key, Value })) });
  }

  private addTags(region: string, input: Record<string, unknown>): EmulatorResponse {
    const p = this.tagged(region, input);
    for (const t of (input.Tags as { Key: string; Value: string }[] | undefined) ?? []) p.tags.set(t.Key, t.Value);
    return this.json({});
  }

  protected internalError(): ApiError {
    return new ApiError(500, "InternalServerError", "An internal error occurred.");
  }
}
