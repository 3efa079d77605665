/**
 * The account set-up template, read as CloudFormation reads it (short-form intrinsics such as
 * !Sub and !GetAtt included), and its policies checked against least privilege.
 */
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { YAMLSeq, parse } from "yaml";
import type { CollectionTag, ScalarTag } from "yaml";
import { DEFAULT_PARAMETER_PREFIX, artifactObjectKey, artifactRecordKey, bucketName, parameterName, publishedLayerName } from "../pipeline/lib/naming.ts";
import { REPO } from "./support/cli.ts";

// ---- CloudFormation YAML -------------------------------------------------------------------

const INTRINSICS = ["Ref", "Condition", "Sub", "GetAtt", "If", "Equals", "Not", "And", "Or", "Join", "Select", "Split", "FindInMap", "ImportValue", "Base64", "GetAZs", "Cidr"];
const longName = (name: string) => (name === "Ref" || name === "Condition" ? name : `Fn::${name}`);

/** `!Sub x` → `{"Fn::Sub": "x"}`, `!If [a, b, c]` → `{"Fn::If": [a, b, c]}`, `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`. */
const CFN_TAGS: (ScalarTag | CollectionTag)[] = INTRINSICS.flatMap((name) => [
  { tag: `!${name}`, resolve: (text: string) => ({ [longName(name)]: name === "GetAtt" ? text.split(".") : text }) } as ScalarTag,
  { tag: `!${name}`, collection: "seq", nodeClass: YAMLSeq, resolve: (seq: YAMLSeq) => ({ [longName(name)]: seq.toJSON() }) } as unknown as CollectionTag,
]);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Obj = { [key: string]: Json };

interface Statement {
  Sid?: string;
  Effect: "Allow" | "Deny";
  Principal?: Json;
  Action: string | string[];
  Resource?: Json;
  Condition?: Record<string, Record<string, Json>>;
}

interface Resource {
  Type: string;
  Condition?: string;
  Properties: Obj;
}

interface Template {
  Parameters: Record<string, Obj>;
  Conditions: Record<string, Json>;
  Resources: Record<string, Resource>;
  Outputs: Record<string, Obj>;
}

/** A policy document inside a resource's properties. */
const policy = (value: Json | undefined) => value as unknown as { Statement: Statement[] };

const list = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** A resource as text: a plain string, `!Sub` text, `!GetAtt X.Arn` as `${X.Arn}`, `!Ref X` as `${X}`. */
function text(value: Json): string {
  if (typeof value === "string") return value;
  if (value && typeof value === "object" && !Array.isArray(value)) {
    if (typeof value["Fn::Sub"] === "string") return value["Fn::Sub"];
    if (Array.isArray(value["Fn::GetAtt"])) return `\${${value["Fn::GetAtt"].join(".")}}`;
    if (typeof value.Ref === "string") return `\${${value.Ref}}`;
  }
  throw new Error(`not a resource name: ${JSON.stringify(value)}`);
}

/** Every statement of a role's inline policies. */
function statements(role: Resource): Statement[] {
  return list(role.Properties.Policies as Obj[]).flatMap((p) => list((p.PolicyDocument as Obj).Statement as unknown as Statement[]));
}

/** Actions that only read. Everything else counts as a write. */
const READ = /^(Get|List|Describe|BatchGet|Head)/;
const isWrite = (action: string) => !READ.test(action.split(":")[1] ?? "");

let template: Template;
let roles: Record<string, Resource>;

before(async () => {
  template = parse(await readFile(join(REPO, "infra/r-lambda-layers.yaml"), "utf8"), { customTags: CFN_TAGS }) as Template;
  roles = Object.fromEntries(Object.entries(template.Resources).filter(([, r]) => r.Type === "AWS::IAM::Role"));
});

// ---- The checks ----------------------------------------------------------------------------

describe("infra/r-lambda-layers.yaml", () => {
  test("parses with its short-form intrinsics and declares what the pipeline needs", () => {
    const types = Object.fromEntries(Object.entries(template.Resources).map(([name, r]) => [name, r.Type]));
    assert.deepEqual(types, {
      ArtifactBucket: "AWS::S3::Bucket",
      ArtifactBucketPolicy: "AWS::S3::BucketPolicy",
      BuildLogGroup: "AWS::Logs::LogGroup",
      BuildServiceRole: "AWS::IAM::Role",
      BuildProject: "AWS::CodeBuild::Project",
      GitHubOidcProvider: "AWS::IAM::OIDCProvider",
      PlanRole: "AWS::IAM::Role",
      PublishRole: "AWS::IAM::Role",
    });
    assert.deepEqual(template.Resources.ArtifactBucket!.Properties.BucketName, { "Fn::Sub": "${ArtifactBucketPrefix}-${AWS::Region}" });
    for (const [name, r] of Object.entries(template.Resources)) {
      for (const ref of JSON.stringify(r).matchAll(/"(?:Ref|Condition)":"([A-Za-z:]+)"/g)) {
        const target = ref[1]!;
        assert.ok(target.startsWith("AWS::") || target in template.Parameters || target in template.Resources || target in template.Conditions, `${name} refers to unknown ${target}`);
      }
      if (r.Condition) assert.ok(r.Condition in template.Conditions, `${name}: unknown condition ${r.Condition}`);
    }
  });

  test("only the bucket is created in every region; the rest only in the home region, the OIDC provider only when asked", () => {
    assert.deepEqual(template.Conditions.IsHomeRegion, { "Fn::Equals": [{ Ref: "AWS::Region" }, { Ref: "HomeRegion" }] });
    assert.deepEqual(template.Conditions.CreateOidc, { "Fn::And": [{ Condition: "IsHomeRegion" }, { "Fn::Equals": [{ Ref: "CreateOidcProvider" }, "true"] }] });
    const conditions = Object.fromEntries(Object.entries(template.Resources).map(([name, r]) => [name, r.Condition ?? "every region"]));
    assert.deepEqual(conditions, {
      ArtifactBucket: "every region",
      ArtifactBucketPolicy: "every region",
      BuildLogGroup: "IsHomeRegion",
      BuildServiceRole: "IsHomeRegion",
      BuildProject: "IsHomeRegion",
      GitHubOidcProvider: "CreateOidc",
      PlanRole: "IsHomeRegion",
      PublishRole: "IsHomeRegion",
    });
  });

  test("the bucket blocks public access, encrypts, keeps versions, refuses plain HTTP and expires old source bundles", () => {
    const bucket = template.Resources.ArtifactBucket!;
    assert.deepEqual(bucket.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    const encryption = bucket.Properties.BucketEncryption as { ServerSideEncryptionConfiguration: { ServerSideEncryptionByDefault: { SSEAlgorithm: string } }[] };
    assert.ok(["AES256", "aws:kms"].includes(encryption.ServerSideEncryptionConfiguration[0]!.ServerSideEncryptionByDefault.SSEAlgorithm));
    assert.deepEqual(bucket.Properties.VersioningConfiguration, { Status: "Enabled" });
    assert.deepEqual(bucket.Properties.OwnershipControls, { Rules: [{ ObjectOwnership: "BucketOwnerEnforced" }] });
    assert.equal((bucket as unknown as Obj).DeletionPolicy, "Retain");

    const rules = (bucket.Properties.LifecycleConfiguration as { Rules: Obj[] }).Rules;
    const sources = rules.find((r) => r.Prefix === "sources/");
    assert.ok(sources, "a rule for sources/");
    assert.equal(sources.Status, "Enabled");
    assert.deepEqual(sources.ExpirationInDays, { Ref: "SourceBundleRetentionDays" });
    assert.ok(rules.some((r) => r.NoncurrentVersionExpiration), "old versions expire too");

    const bucketPolicy = policy(template.Resources.ArtifactBucketPolicy!.Properties.PolicyDocument);
    const tls = bucketPolicy.Statement.find((s) => s.Effect === "Deny" && s.Condition?.Bool?.["aws:SecureTransport"] === "false");
    assert.ok(tls, "plain HTTP is denied");
    assert.deepEqual(list(tls.Resource).map(text), ["${ArtifactBucket.Arn}", "${ArtifactBucket.Arn}/*"]);
    assert.ok(!bucketPolicy.Statement.some((s) => s.Effect === "Allow"), "the bucket policy grants nothing");
  });

  test("no role allows a write action on a '*' resource, or any wildcard action", () => {
    for (const [name, role] of Object.entries(roles)) {
      for (const s of statements(role)) {
        assert.equal(s.Effect, "Allow", `${name}/${s.Sid}`);
        assert.ok(!("NotAction" in s) && !("NotResource" in s), `${name}/${s.Sid}: no NotAction/NotResource`);
        const actions = list(s.Action);
        for (const action of actions) assert.ok(!action.includes("*"), `${name}/${s.Sid}: wildcard action ${action}`);
        const resources = list(s.Resource).map(text);
        if (resources.includes("*")) {
          // The one exception: ListLayers accepts no resource but "*", and only reads.
          assert.deepEqual(actions, ["lambda:ListLayers"], `${name}/${s.Sid}: "*" resource for ${actions.join(", ")}`);
        }
        for (const action of actions.filter(isWrite)) {
          for (const resource of resources) assert.ok(resource !== "*" && !/^arn:[^:]*:[^:]*:[^:]*:[^:]*:\*$/.test(resource), `${name}/${s.Sid}: ${action} on ${resource}`);
        }
      }
    }
  });

  test("Lambda permissions name only the pipeline's layers (r-*), as pipeline/lib/naming.ts names them", () => {
    assert.ok(publishedLayerName("runtime", "4.4.1", "x86_64").startsWith("r-"));
    assert.ok(publishedLayerName("runtime", "4.4.1", "arm64").startsWith("r-"));
    for (const [name, role] of Object.entries(roles)) {
      for (const s of statements(role)) {
        const lambda = list(s.Action).filter((a) => a.startsWith("lambda:") && a !== "lambda:ListLayers");
        if (!lambda.length) continue;
        for (const resource of list(s.Resource).map(text)) {
          assert.match(resource, /^arn:\$\{AWS::Partition\}:lambda:\*:\$\{AWS::AccountId\}:layer:r-\*(:\*)?$/, `${name}/${s.Sid}`);
        }
      }
    }
    const publish = statements(roles.PublishRole!);
    const resourceOf = (action: string) => publish.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource).map(text));
    assert.deepEqual(resourceOf("lambda:PublishLayerVersion"), ["arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:layer:r-*"]);
    for (const action of ["lambda:AddLayerVersionPermission", "lambda:RemoveLayerVersionPermission", "lambda:DeleteLayerVersion"]) {
      assert.deepEqual(resourceOf(action), ["arn:${AWS::Partition}:lambda:*:${AWS::AccountId}:layer:r-*:*"], action);
    }
  });

  test("the publishing role has every action the reconciler calls, and deletes objects only under locks/", () => {
    const granted = new Set(statements(roles.PublishRole!).flatMap((s) => list(s.Action)));
    for (const action of [
      "lambda:ListLayers", "lambda:ListLayerVersions", "lambda:GetLayerVersion", "lambda:GetLayerVersionPolicy",
      "lambda:PublishLayerVersion", "lambda:AddLayerVersionPermission", "lambda:RemoveLayerVersionPermission", "lambda:DeleteLayerVersion",
      "s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket",
      "codebuild:StartBuild", "codebuild:BatchGetBuilds", "logs:GetLogEvents",
    ]) {
      assert.ok(granted.has(action), action);
    }
    const prefix = "arn:${AWS::Partition}:s3:::${ArtifactBucketPrefix}-*";
    for (const s of statements(roles.PublishRole!)) {
      const actions = list(s.Action);
      const resources = list(s.Resource).map(text);
      if (actions.includes("s3:DeleteObject")) assert.deepEqual(resources, [`${prefix}/locks/*`]);
      if (actions.some((a) => a.startsWith("s3:"))) {
        assert.deepEqual(s.Condition, { StringEquals: { "s3:ResourceAccount": { Ref: "AWS::AccountId" } } }, `${s.Sid}: only this account's buckets`);
      }
      if (actions.includes("s3:PutObject")) {
        // What the reconciler writes: build-script bundles, artifacts (naming.ts), the outputs index, the lock.
        assert.deepEqual(resources.sort(), [`${prefix}/artifacts/*`, `${prefix}/locks/*`, `${prefix}/outputs/*`, `${prefix}/sources/*`]);
        for (const key of [artifactObjectKey("r", "k"), artifactRecordKey("layer", "k"), "outputs/index.json", "locks/reconcile.json", "sources/abc.zip"]) {
          assert.ok(resources.some((r) => key.startsWith(r.slice(prefix.length + 1, -1))), key);
        }
      }
      if (actions.some((a) => a.startsWith("codebuild:"))) assert.deepEqual(resources, ["${BuildProject.Arn}"]);
      if (actions.includes("logs:GetLogEvents")) {
        assert.deepEqual(resources, ["arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:/aws/codebuild/${ProjectName}:log-stream:*"]);
      }
    }
    // The bucket the manifest names is the bucket each regional stack creates.
    assert.equal(bucketName("r-lambda-layers-artifacts-{region}", "eu-central-1"), "r-lambda-layers-artifacts-eu-central-1");
    assert.deepEqual(template.Outputs.ManifestArtifactsBucket!.Value, { "Fn::Sub": "${ArtifactBucketPrefix}-{region}" });
  });

  test("Parameter Store: the publishing role writes, tags and deletes under /r-lambda-layers/ only; the plan role only lists there", () => {
    const base = "arn:${AWS::Partition}:ssm:*:${AWS::AccountId}:parameter";
    const under = `${base}${DEFAULT_PARAMETER_PREFIX}/*`;
    // The names the pipeline writes fall under the granted path (naming.ts).
    assert.ok(parameterName(DEFAULT_PARAMETER_PREFIX, "runtime", "4.4.1", "arm64").startsWith(`${DEFAULT_PARAMETER_PREFIX}/`));
    const ssmActions = (role: Resource) => statements(role).filter((s) => list(s.Action).some((a) => a.startsWith("ssm:")));
    for (const [name, role] of Object.entries(roles)) {
      for (const s of ssmActions(role)) {
        for (const resource of list(s.Resource).map(text)) assert.ok(resource === under || resource === `${base}${DEFAULT_PARAMETER_PREFIX}`, `${name}/${s.Sid}: ${resource}`);
      }
    }
    const publish = ssmActions(roles.PublishRole!);
    const resourcesOf = (statementsOf: Statement[], action: string) => statementsOf.filter((s) => list(s.Action).includes(action)).flatMap((s) => list(s.Resource).map(text));
    for (const action of ["ssm:PutParameter", "ssm:DeleteParameter", "ssm:AddTagsToResource"]) {
      assert.deepEqual(resourcesOf(publish, action), [under], action);
    }
    // GetParametersByPath is authorized on the path itself; the tags are read per parameter.
    for (const role of [roles.PublishRole!, roles.PlanRole!]) {
      assert.deepEqual(resourcesOf(ssmActions(role), "ssm:GetParametersByPath").sort(), [`${base}${DEFAULT_PARAMETER_PREFIX}`, under]);
      assert.ok(resourcesOf(ssmActions(role), "ssm:ListTagsForResource").includes(under));
    }
    const planSsm = ssmActions(roles.PlanRole!).flatMap((s) => list(s.Action));
    assert.deepEqual(planSsm.filter(isWrite), [], "the plan role writes no parameter");
    for (const [name, role] of Object.entries(roles)) {
      if (name === "PublishRole") continue;
      assert.deepEqual(statements(role).flatMap((s) => list(s.Action)).filter((a) => /^ssm:(Put|Delete|AddTags)/.test(a)), [], name);
    }
  });

  test("the plan role has no write action", () => {
    const actions = statements(roles.PlanRole!).flatMap((s) => list(s.Action));
    assert.ok(actions.length > 0);
    assert.deepEqual(actions.filter(isWrite), []);
    assert.ok(actions.includes("lambda:ListLayers") && actions.includes("lambda:GetLayerVersionPolicy") && actions.includes("s3:GetObject"));
  });

  test("the build service role reaches only its bucket and its log group", () => {
    const role = roles.BuildServiceRole!;
    const trust = (policy(role.Properties.AssumeRolePolicyDocument)).Statement;
    assert.deepEqual(trust.map((s) => s.Principal), [{ Service: "codebuild.amazonaws.com" }]);
    assert.deepEqual(trust[0]!.Condition, { StringEquals: { "aws:SourceAccount": { Ref: "AWS::AccountId" } } });
    for (const s of statements(role)) {
      for (const resource of list(s.Resource).map(text)) {
        assert.ok(resource === "${ArtifactBucket.Arn}" || resource.startsWith("${ArtifactBucket.Arn}/") || resource === "${BuildLogGroup.Arn}", `${s.Sid}: ${resource}`);
      }
    }
    const project = template.Resources.BuildProject!.Properties;
    assert.deepEqual(project.ServiceRole, { "Fn::GetAtt": ["BuildServiceRole", "Arn"] });
    assert.deepEqual(project.LogsConfig, { CloudWatchLogs: { Status: "ENABLED", GroupName: { Ref: "BuildLogGroup" } } });
    assert.deepEqual(template.Resources.BuildLogGroup!.Properties.LogGroupName, { "Fn::Sub": "/aws/codebuild/${ProjectName}" });
  });

  test("the GitHub roles trust only this repository, audience sts.amazonaws.com, and publishing only from the `publish` environment", () => {
    const repo = "repo:${GitHubOrg}/${GitHubRepo}:";
    const trustOf = (name: string) => {
      const doc = policy(roles[name]!.Properties.AssumeRolePolicyDocument);
      assert.equal(doc.Statement.length, 1, name);
      const s = doc.Statement[0]!;
      assert.equal(s.Action, "sts:AssumeRoleWithWebIdentity");
      assert.deepEqual(Object.keys(s.Condition ?? {}), ["StringEquals"], `${name}: exact matches only, no StringLike`);
      const conditions = s.Condition!.StringEquals!;
      assert.equal(conditions["token.actions.githubusercontent.com:aud"], "sts.amazonaws.com");
      const subjects = list(conditions["token.actions.githubusercontent.com:sub"] as Json).map(text);
      for (const sub of subjects) {
        assert.ok(sub.startsWith(repo), `${name}: ${sub}`);
        assert.ok(!sub.includes("*") && !sub.includes("?"), `${name}: ${sub}`);
      }
      const federated = (s.Principal as { Federated: Obj }).Federated;
      assert.deepEqual(federated["Fn::If"], [
        "CreateOidc",
        { Ref: "GitHubOidcProvider" },
        { "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:oidc-provider/token.actions.githubusercontent.com" },
      ]);
      return subjects;
    };
    // The environment only: not a branch, so a job outside the environment (drift, plan, CI, a
    // workflow pushed to another branch) never gets credentials that publish.
    assert.deepEqual(trustOf("PublishRole"), [`${repo}environment:publish`]);
    assert.deepEqual(trustOf("PlanRole"), [`${repo}pull_request`, `${repo}ref:refs/heads/\${DefaultBranch}`]);

    // The parameters cannot smuggle a wildcard into those subjects.
    for (const p of ["GitHubOrg", "GitHubRepo", "DefaultBranch"]) {
      const pattern = new RegExp(template.Parameters[p]!.AllowedPattern as string);
      assert.ok(!pattern.test("*") && !pattern.test("acme*") && !pattern.test("a?b"), p);
    }
    assert.ok(new RegExp(template.Parameters.DefaultBranch!.AllowedPattern as string).test("release/2025"));
    const provider = template.Resources.GitHubOidcProvider!.Properties;
    assert.equal(provider.Url, "https://token.actions.githubusercontent.com");
    assert.deepEqual(provider.ClientIdList, ["sts.amazonaws.com"]);
  });

  test("no role but the publishing role can publish, share or delete a layer version, and nothing else may assume it", () => {
    const PUBLISHING = ["lambda:PublishLayerVersion", "lambda:AddLayerVersionPermission", "lambda:RemoveLayerVersionPermission", "lambda:DeleteLayerVersion"];
    const holders = Object.entries(roles).filter(([, role]) => statements(role).some((s) => list(s.Action).some((a) => PUBLISHING.includes(a))));
    assert.deepEqual(holders.map(([name]) => name), ["PublishRole"]);
    // Nor can another role pass a role on, or act for the GitHub principal in some other way.
    for (const [name, role] of Object.entries(roles)) {
      for (const action of statements(role).flatMap((s) => list(s.Action))) {
        assert.ok(!/^(iam|sts):/.test(action), `${name}: ${action}`);
      }
    }
    const trust = policy(roles.PublishRole!.Properties.AssumeRolePolicyDocument).Statement;
    assert.equal(trust.length, 1);
    assert.equal(trust[0]!.Effect, "Allow");
    assert.deepEqual(Object.keys(trust[0]!.Principal as Obj), ["Federated"], "only GitHub's OIDC provider");
    const sub = trust[0]!.Condition!.StringEquals!["token.actions.githubusercontent.com:sub"] as Json;
    assert.ok(!JSON.stringify(sub).includes(":ref:") && !JSON.stringify(sub).includes("pull_request") && !JSON.stringify(sub).includes("DefaultBranch"), JSON.stringify(sub));
    // Only the publishing role lasts long enough for a reconcile; the others keep the default hour.
    assert.equal(roles.PlanRole!.Properties.MaxSessionDuration, undefined);
  });

  test("the publishing session lasts as long as the reconcile workflow asks for", async () => {
    const workflow = await readFile(join(REPO, ".github/workflows/reconcile.yml"), "utf8");
    const asked = Number(/role-duration-seconds:\s*(\d+)/.exec(workflow)?.[1]);
    assert.ok(asked > 3600, "reconcile asks for a session longer than the 1-hour default");
    assert.ok(Number(template.Parameters.PublishSessionSeconds!.Default) >= asked);
    assert.deepEqual(roles.PublishRole!.Properties.MaxSessionDuration, { Ref: "PublishSessionSeconds" });
    const timeout = Number(/timeout-minutes:\s*(\d+)/.exec(workflow)?.[1]);
    assert.ok(timeout * 60 <= asked, "the job ends before its credentials expire");
  });
});
