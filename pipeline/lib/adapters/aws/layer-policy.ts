/**
 * Reading grants back from a layer version's resource policy (GetLayerVersionPolicy). Lambda
 * stores an account principal as `{"AWS": "arn:aws:iam::ACCOUNT:root"}`, public access as `"*"`,
 * and an organization as `"*"` with an `aws:PrincipalOrgID` condition.
 */
import { StateError } from "../../errors.ts";
import type { Grant } from "../../ports.ts";
import { grantId } from "../../grants.ts";

interface Statement {
  readonly Sid?: string;
  readonly Effect?: string;
  readonly Principal?: unknown;
  readonly Action?: unknown;
  readonly Condition?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

const ACCOUNT_ARN = /^arn:aws[a-z-]*:iam::(\d{12}):root$/;

function principalAccount(principal: unknown): string | undefined {
  const aws = typeof principal === "object" && principal !== null ? (principal as { AWS?: unknown }).AWS : undefined;
  const value = Array.isArray(aws) ? (aws.length === 1 ? aws[0] : undefined) : aws;
  if (typeof value !== "string") return undefined;
  if (/^\d{12}$/.test(value)) return value;
  return ACCOUNT_ARN.exec(value)?.[1];
}

function isEveryone(principal: unknown): boolean {
  return principal === "*" || (typeof principal === "object" && principal !== null && (principal as { AWS?: unknown }).AWS === "*");
}

function organizationOf(statement: Statement): string | undefined {
  for (const [operator, conditions] of Object.entries(statement.Condition ?? {})) {
    if (operator !== "StringEquals") continue;
    const value = conditions["aws:PrincipalOrgID"];
    if (typeof value === "string") return value;
  }
  return undefined;
}

function grantOf(statement: Statement): Grant | undefined {
  if (statement.Effect !== "Allow") return undefined;
  const account = principalAccount(statement.Principal);
  if (account) return { kind: "account", account };
  if (!isEveryone(statement.Principal)) return undefined;
  const organization = organizationOf(statement);
  if (organization) return { kind: "organization", organization };
  return statement.Condition && Object.keys(statement.Condition).length > 0 ? undefined : { kind: "public" };
}

/** The grants a policy document gives; statements this pipeline cannot express are left out. */
export function grantsFromPolicy(policy: string | undefined): Grant[] {
  if (!policy) return [];
  let document: { Statement?: Statement | Statement[] };
  try {
    document = JSON.parse(policy) as { Statement?: Statement | Statement[] };
  } catch (error) {
    throw new StateError(`a layer version policy is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  const statements = Array.isArray(document.Statement) ? document.Statement : document.Statement ? [document.Statement] : [];
  const grants: Grant[] = [];
  for (const statement of statements) {
    const grant = grantOf(statement);
    if (grant && !grants.some((g) => sameGrant(g, grant))) grants.push(grant);
  }
  return grants;
}

export function sameGrant(a: Grant, b: Grant): boolean {
  return grantId(a) === grantId(b);
}
