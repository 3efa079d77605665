/**
 * The guide's snippets for infrastructure code parse, and read the parameters the pipeline names:
 * CloudFormation as YAML with its dynamic references checked, Terraform, CDK and the AWS CLI as
 * text. (test/e2e-parameters.test.ts checks the same names against what a reconcile wrote.)
 */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { DEFAULT_PARAMETER_PREFIX, parameterName } from "../pipeline/lib/naming.ts";
import { BASE_YAML, edit, manifestFrom } from "./support/manifests.ts";
import { guideSnippets, parameterNamesIn } from "./support/guide.ts";

const RUNTIME = parameterName(DEFAULT_PARAMETER_PREFIX, "runtime", "4.4.1", "x86_64");
const STATS = parameterName(DEFAULT_PARAMETER_PREFIX, "stats", "4.4.1", "x86_64");
/** `{{resolve:ssm:NAME}}` or `{{resolve:ssm:NAME:VERSION}}`, as CloudFormation accepts them for String parameters. */
const RESOLVE = /^\{\{resolve:ssm:(\/[A-Za-z0-9_.\-/]+)(?::\d+)?\}\}$/;

describe("docs/guide.md: using the layers from infrastructure code", () => {
  test("the manifest snippet is a valid outputs setting, and its prefix is the default", async () => {
    const { manifest } = await guideSnippets();
    const yaml = edit(BASE_YAML, "builder:\n", `${manifest}builder:\n`);
    assert.deepEqual(manifestFrom(yaml).outputs, { parameters: { prefix: DEFAULT_PARAMETER_PREFIX } });
  });

  test("SAM/CloudFormation: YAML whose function's layers are dynamic references to the parameters", async () => {
    const { cloudformation } = await guideSnippets();
    const template = parse(cloudformation) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
    const fn = Object.values(template.Resources).find((r) => r.Type === "AWS::Serverless::Function");
    assert.ok(fn, "a SAM function");
    assert.equal(fn.Properties.Runtime, "provided.al2023");
    assert.deepEqual(fn.Properties.Architectures, ["x86_64"]);
    const layers = fn.Properties.Layers as string[];
    const names = layers.map((l) => {
      const m = RESOLVE.exec(l);
      assert.ok(m, `not a dynamic reference: ${l}`);
      return m[1];
    });
    assert.deepEqual(names, [RUNTIME, STATS]);
  });

  test("Terraform: one aws_ssm_parameter data source per layer, each used by the function", async () => {
    const { terraform } = await guideSnippets();
    const sources = [...terraform.matchAll(/^data "aws_ssm_parameter" "(\w+)" \{\n {2}name = "([^"]+)"\n\}$/gm)].map((m) => ({ id: m[1]!, name: m[2]! }));
    assert.deepEqual(sources.map((s) => s.name), [RUNTIME, STATS]);
    const layers = /^ {2}layers = \[\n([\s\S]*?)\n {2}\]$/m.exec(terraform)?.[1] ?? "";
    assert.deepEqual([...layers.matchAll(/data\.aws_ssm_parameter\.(\w+)\.insecure_value/g)].map((m) => m[1]), sources.map((s) => s.id));
    assert.match(terraform, /^ {2}runtime {7}= "provided\.al2023"$/m);
    // Balanced braces and brackets: the text is well-formed enough to paste.
    for (const [open, close] of [["{", "}"], ["[", "]"], ["(", ")"]] as const) assert.equal(terraform.split(open).length, terraform.split(close).length, open);
  });

  test("CDK: StringParameter.valueForStringParameter for each layer, in a Function on provided.al2023", async () => {
    const { cdk } = await guideSnippets();
    assert.match(cdk, /ssm\.StringParameter\.valueForStringParameter\(this, name\)/);
    assert.match(cdk, /lambda\.LayerVersion\.fromLayerVersionArn\(/);
    assert.match(cdk, /runtime: lambda\.Runtime\.PROVIDED_AL2023/);
    assert.deepEqual([...cdk.matchAll(/layer\("\w+", "([^"]+)"\)/g)].map((m) => m[1]), [RUNTIME, STATS]);
    for (const [open, close] of [["{", "}"], ["[", "]"], ["(", ")"]] as const) assert.equal(cdk.split(open).length, cdk.split(close).length, open);
  });

  test("AWS CLI: get-parameter for each layer, then the function's layers; a listing of the path", async () => {
    const { cli } = await guideSnippets();
    assert.deepEqual([...cli.matchAll(/aws ssm get-parameter --region [a-z0-9-]+ --name (\S+) --query Parameter\.Value --output text/g)].map((m) => m[1]), [RUNTIME, STATS]);
    assert.match(cli, /aws lambda update-function-configuration .*--layers "\$runtime" "\$stats"/);
    assert.match(cli, new RegExp(`aws ssm get-parameters-by-path --region [a-z0-9-]+ --path ${DEFAULT_PARAMETER_PREFIX} --recursive`));
  });

  test("every snippet reads the same parameters, each a name the pipeline gives", async () => {
    const s = await guideSnippets();
    for (const snippet of [s.cloudformation, s.terraform, s.cdk]) assert.deepEqual(parameterNamesIn(snippet), [RUNTIME, STATS]);
    assert.deepEqual(parameterNamesIn(s.cli), [RUNTIME, STATS]);
  });
});
