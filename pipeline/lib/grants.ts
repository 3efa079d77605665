/**
 * Who may use a published layer version: the grants a manifest's `share` setting asks for, and
 * how a grant is named (the statement id Lambda stores it under) and described to people.
 */
import type { Sharing } from "./manifest/types.ts";

export type Grant =
  | { readonly kind: "account"; readonly account: string }
  | { readonly kind: "organization"; readonly organization: string }
  | { readonly kind: "public" };

/** The grants every current version of a layer should carry. */
export function desiredGrants(share: Sharing): Grant[] {
  const grants: Grant[] = share.accounts.map((account) => ({ kind: "account", account }));
  if (share.organization) grants.push({ kind: "organization", organization: share.organization });
  if (share.public) grants.push({ kind: "public" });
  return grants;
}

export function grantId(grant: Grant): string {
  switch (grant.kind) {
    case "account":
      return `account-${grant.account}`;
    case "organization":
      return `org-${grant.organization}`;
    case "public":
      return "public";
  }
}

export function describeGrant(grant: Grant): string {
  switch (grant.kind) {
    case "account":
      return `account ${grant.account}`;
    case "organization":
      return `organization ${grant.organization}`;
    case "public":
      return "everyone (public)";
  }
}
