/**
 * LayerParameters over Parameter Store, through the real SDK against the SSM emulator: a new
 * parameter is created with its owner tag, an existing one is overwritten (keeping its tags),
 * listings page through GetParametersByPath, deleting is idempotent, throttling is ridden out,
 * and refusals become one sentence naming the permission.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { SsmLayerParameters } from "../pipeline/lib/adapters/aws/ssm-parameters.ts";
import { PipelineError } from "../pipeline/lib/errors.ts";
import { PARAMETER_OWNER_TAG } from "../pipeline/lib/naming.ts";
import { guardNetwork } from "./support/aws/guard.ts";
import { TEST_RETRY, useEmulatorCredentials } from "./support/aws/setup.ts";
import { SsmEmulator } from "./support/aws/ssm.ts";

const guard = guardNetwork();
const ssm = new SsmEmulator();
let parameters: SsmLayerParameters;
const OWNER = "acme-r-layers-{region}";
const ARN = (v: number) => `arn:aws:lambda:us-east-1:123456789012:layer:r-runtime-4_4_1:${v}`;

before(async () => {
  await ssm.start();
  useEmulatorCredentials({ AWS_ACCESS_KEY_ID: "test", AWS_SECRET_ACCESS_KEY: "test", AWS_EC2_METADATA_DISABLED: "true", AWS_CONFIG_FILE: "/nonexistent", AWS_SHARED_CREDENTIALS_FILE: "/nonexistent" });
  parameters = new SsmLayerParameters({ env: { AWS_ENDPOINT_URL_SSM: ssm.url }, retryTuning: TEST_RETRY });
});

after(async () => {
  parameters.destroy();
  await ssm.close();
  guard.restore();
  assert.deepEqual(guard.refused, []);
});

beforeEach(() => {
  ssm.calls.reset();
  ssm.faults.reset();
  ssm.allowAll();
  ssm.pageSize = 10;
});

describe("SSM layer parameters", () => {
  test("create tags the new parameter; update overwrites the value and keeps the tags", async () => {
    const name = "/r-lambda-layers/runtime/4.4.1/x86_64";
    await parameters.put({ region: "us-east-1", name, value: ARN(1), owner: OWNER, change: "create" });
    assert.equal(ssm.parameter("us-east-1", name)?.value, ARN(1));
    assert.equal(ssm.parameter("us-east-1", name)?.type, "String");
    assert.equal(await parameters.readOwner("us-east-1", name), OWNER);

    await parameters.put({ region: "us-east-1", name, value: ARN(2), owner: OWNER, change: "update" });
    const p = ssm.parameter("us-east-1", name);
    assert.deepEqual([p?.value, p?.version, p?.tags.get(PARAMETER_OWNER_TAG)], [ARN(2), 2, OWNER]);
    assert.equal(ssm.parameter("eu-west-1", name), undefined, "regions are apart");
  });

  test("a create that finds the parameter: ours (a lost response) is overwritten, anyone else's is refused", async () => {
    const name = "/r-lambda-layers/race/4.4.1/x86_64";
    ssm.seed("us-east-1", name, ARN(1), { [PARAMETER_OWNER_TAG]: OWNER });
    await parameters.put({ region: "us-east-1", name, value: ARN(3), owner: OWNER, change: "create" });
    assert.equal(ssm.parameter("us-east-1", name)?.value, ARN(3));

    const foreign = "/r-lambda-layers/byhand/4.4.1/x86_64";
    ssm.seed("us-east-1", foreign, "by hand");
    await assert.rejects(parameters.put({ region: "us-east-1", name: foreign, value: ARN(3), owner: OWNER, change: "create" }), (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.equal(e.code, "STATE_CONFLICT");
      assert.match(e.message, /parameter \/r-lambda-layers\/byhand\/4\.4\.1\/x86_64 in us-east-1 appeared after the plan and is not this pipeline's \(no r-lambda-layers:owner tag\)/);
      return true;
    });
    assert.equal(ssm.parameter("us-east-1", foreign)?.value, "by hand");
  });

  test("list pages through GetParametersByPath: everything under the path, nothing beside it", async () => {
    for (let i = 0; i < 23; i++) ssm.seed("eu-west-1", `/pages/layer${String(i).padStart(2, "0")}/4.4.1/x86_64`, ARN(i + 1));
    ssm.seed("eu-west-1", "/pagesbeside/x", "not under the path");
    ssm.seed("eu-west-1", "/other/x", "elsewhere");
    ssm.pageSize = 4; // AWS may answer with fewer than MaxResults and a NextToken
    const listed = await parameters.list("eu-west-1", "/pages");
    assert.equal(listed.length, 23);
    assert.ok(listed.every((p) => p.name.startsWith("/pages/layer")));
    assert.equal(listed[0]?.value, ARN(1));
    assert.equal(ssm.calls.count("GetParametersByPath"), 6, "ceil(23 / 4) pages");
    assert.deepEqual(await parameters.list("ap-south-1", "/pages"), []);
  });

  test("delete removes the parameter, and deleting it again is fine", async () => {
    const name = "/r-lambda-layers/gone/4.4.1/x86_64";
    ssm.seed("us-east-1", name, ARN(1), { [PARAMETER_OWNER_TAG]: OWNER });
    await parameters.delete("us-east-1", name);
    assert.equal(ssm.parameter("us-east-1", name), undefined);
    await parameters.delete("us-east-1", name);
    assert.equal(ssm.calls.count("DeleteParameter"), 2);
  });

  test("an untagged parameter has no owner", async () => {
    ssm.seed("us-east-1", "/r-lambda-layers/untagged/4.4.1/x86_64", "x", { team: "data" });
    assert.equal(await parameters.readOwner("us-east-1", "/r-lambda-layers/untagged/4.4.1/x86_64"), undefined);
  });

  test("with 30% of calls throttled every operation still succeeds", async () => {
    ssm.faults.set({ throttleRate: 0.3 });
    const names = Array.from({ length: 8 }, (_, i) => `/throttled/l${i}/4.4.1/x86_64`);
    for (const name of names) await parameters.put({ region: "us-east-1", name, value: ARN(1), owner: OWNER, change: "create" });
    for (const name of names) await parameters.put({ region: "us-east-1", name, value: ARN(2), owner: OWNER, change: "update" });
    ssm.pageSize = 3;
    const listed = await parameters.list("us-east-1", "/throttled");
    assert.deepEqual(listed.map((p) => p.value), names.map(() => ARN(2)));
    assert.deepEqual(await Promise.all(names.map((n) => parameters.readOwner("us-east-1", n))), names.map(() => OWNER));
    for (const name of names) await parameters.delete("us-east-1", name);
    assert.deepEqual(await parameters.list("us-east-1", "/throttled"), []);
    assert.ok(ssm.faults.injected > 0, "some calls were throttled");
  });

  test("access denied names the permission (and, for a create, the tagging one)", async () => {
    ssm.denyAccess("PutParameter");
    await assert.rejects(parameters.put({ region: "us-east-1", name: "/r-lambda-layers/denied/4.4.1/x86_64", value: ARN(1), owner: OWNER, change: "create" }), (e: unknown) => {
      assert.ok(e instanceof PipelineError);
      assert.equal(e.code, "AWS_ACCESS_DENIED");
      assert.match(e.message, /^Access denied to SSM PutParameter on parameter \/r-lambda-layers\/denied\/4\.4\.1\/x86_64 in us-east-1 .*need ssm:PutParameter on it and ssm:AddTagsToResource/);
      return true;
    });
    ssm.denyAccess("GetParametersByPath");
    await assert.rejects(parameters.list("us-east-1", "/r-lambda-layers"), /Access denied to SSM GetParametersByPath on parameter \/r-lambda-layers\/\* in us-east-1.*ssm:GetParametersByPath/);
  });
});
