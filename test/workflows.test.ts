/**
 * The GitHub Actions workflows, parsed, held to their security properties: permissions per job,
 * actions pinned to a commit, no credentials left by checkout, no privileged run of fork code,
 * one reconcile at a time, no value spliced into a script; and every command they run exists.
 */
import assert from "node:assert/strict";
import { access, readFile, readdir } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { parse } from "yaml";
import { OUTPUTS_USAGE } from "../pipeline/lib/cli/outputs-command.ts";
import { PLAN_USAGE } from "../pipeline/lib/cli/plan-command.ts";
import { RECONCILE_USAGE } from "../pipeline/lib/cli/reconcile-command.ts";
import { COMMENT_USAGE } from "../pipeline/lib/github/comment-command.ts";
import { runScripts, shellcheck } from "../pipeline/tools/actionlint.ts";
import { REPO } from "./support/cli.ts";

interface Step {
  name?: string;
  id?: string;
  if?: string;
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
}

interface Job {
  name?: string;
  if?: string;
  "runs-on"?: string;
  "timeout-minutes"?: number;
  permissions?: Record<string, string> | string;
  concurrency?: { group?: string; "cancel-in-progress"?: boolean | string };
  env?: Record<string, unknown>;
  steps?: Step[];
}

interface Workflow {
  name?: string;
  on: Record<string, unknown> | string | string[];
  permissions?: Record<string, string> | string;
  concurrency?: { group?: string; "cancel-in-progress"?: boolean | string };
  jobs: Record<string, Job>;
}

interface Loaded {
  readonly file: string;
  readonly raw: string;
  readonly workflow: Workflow;
}

const DIR = join(REPO, ".github/workflows");
const SHA_PIN = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_./-]+@[0-9a-f]{40}$/;
const WRITABLE_SCOPES = new Set(["id-token", "pull-requests"]);
const SAME_REPO = "github.event.pull_request.head.repo.full_name == github.repository";
const FROM_FORK = "github.event.pull_request.head.repo.full_name != github.repository";

function triggers(workflow: Workflow): string[] {
  const on = workflow.on;
  if (typeof on === "string") return [on];
  return Array.isArray(on) ? on : Object.keys(on);
}

const steps = (job: Job) => job.steps ?? [];
const isCheckout = (step: Step) => step.uses?.startsWith("actions/checkout@") === true;
const isAwsLogin = (step: Step) => step.uses?.startsWith("aws-actions/configure-aws-credentials@") === true;
const perms = (job: Job) => (typeof job.permissions === "object" ? job.permissions : {});

/**
 * Everything that makes a workflow unsafe, as sentences. Kept apart from the tests so that the
 * last test can prove it catches a workflow built to break every rule.
 */
function securityProblems({ file, raw, workflow }: Loaded): string[] {
  const problems: string[] = [];
  const on = triggers(workflow);
  const privileged = on.includes("pull_request_target") || on.includes("workflow_run");

  if (workflow.permissions === undefined || JSON.stringify(workflow.permissions) !== "{}") {
    problems.push(`${file}: top-level permissions must be {} so that every job states its own`);
  }
  for (const [id, job] of Object.entries(workflow.jobs)) {
    const where = `${file} job ${id}`;
    if (typeof job.permissions !== "object" || job.permissions === null) problems.push(`${where}: no permissions block`);
    for (const [scope, level] of Object.entries(perms(job))) {
      if (!["read", "write", "none"].includes(level)) problems.push(`${where}: permission ${scope}: ${level}`);
      if (level === "write" && !WRITABLE_SCOPES.has(scope)) problems.push(`${where}: ${scope}: write`);
    }
    if (job["timeout-minutes"] === undefined) problems.push(`${where}: no timeout-minutes`);
    for (const step of steps(job)) {
      const label = `${where} step ${step.name ?? step.uses ?? step.run?.split("\n")[0]}`;
      if (step.uses !== undefined && !SHA_PIN.test(step.uses)) problems.push(`${label}: ${step.uses} is not pinned to a full commit SHA`);
      if (isCheckout(step) && step.with?.["persist-credentials"] !== false) problems.push(`${label}: checkout without persist-credentials: false`);
      if (privileged && isCheckout(step) && /head|merge|github\.event\.pull_request/.test(JSON.stringify(step.with ?? {}))) {
        problems.push(`${label}: checks out pull-request code under ${on.join(", ")}`);
      }
      // Script injection: expressions reach scripts only through env.
      if (step.run?.includes("${{")) problems.push(`${label}: \${{ }} inside run; pass it through env`);
      if (isAwsLogin(step) && perms(job)["id-token"] !== "write") problems.push(`${label}: AWS login without id-token: write`);
    }
  }
  if (/\bsecrets\./.test(raw)) problems.push(`${file}: uses secrets; role ARNs are repository variables and the token is github.token`);
  for (const [n, line] of raw.split("\n").entries()) {
    if (/^\s*-?\s*uses:/.test(line) && !/uses:\s*\S+@[0-9a-f]{40} # v\d+(\.\d+)*\s*$/.test(line)) {
      problems.push(`${file}:${n + 1}: uses: needs a full SHA and the version in a comment ("@<sha> # v4.2.2")`);
    }
  }
  if (on.includes("pull_request") || on.includes("pull_request_target")) {
    for (const [id, job] of Object.entries(workflow.jobs)) {
      const trusted = perms(job)["id-token"] === "write" || perms(job)["pull-requests"] === "write" || steps(job).some(isAwsLogin);
      if (trusted && !job.if?.includes(SAME_REPO)) problems.push(`${file} job ${id}: credentials or a write token on pull requests from forks`);
    }
  }
  return problems;
}

let workflows: Loaded[];
const byName = (file: string) => {
  const found = workflows.find((w) => w.file === file);
  assert.ok(found, `${file} exists`);
  return found.workflow;
};

before(async () => {
  const files = (await readdir(DIR)).filter((f) => /\.ya?ml$/.test(f)).sort();
  workflows = await Promise.all(
    files.map(async (file) => {
      const raw = await readFile(join(DIR, file), "utf8");
      return { file, raw, workflow: parse(raw) as Workflow };
    }),
  );
});

describe(".github/workflows", () => {
  test("ci, plan, reconcile and drift exist and hold every security rule", () => {
    assert.deepEqual(workflows.map((w) => w.file), ["ci.yml", "drift.yml", "plan.yml", "reconcile.yml"]);
    assert.deepEqual(workflows.flatMap(securityProblems), []);
  });

  test("third-party actions are pinned to one SHA each across all workflows", () => {
    const pins = new Map<string, Set<string>>();
    for (const { workflow } of workflows) {
      for (const job of Object.values(workflow.jobs)) {
        for (const step of steps(job)) {
          if (!step.uses) continue;
          const [action, ref] = step.uses.split("@") as [string, string];
          pins.set(action, (pins.get(action) ?? new Set()).add(ref));
        }
      }
    }
    assert.deepEqual([...pins.keys()].sort(), ["actions/checkout", "actions/setup-node", "aws-actions/configure-aws-credentials"]);
    for (const [action, refs] of pins) assert.equal(refs.size, 1, `${action} pinned to ${[...refs].join(", ")}`);
  });

  test("no workflow runs on pull_request_target or workflow_run", () => {
    for (const { file, workflow } of workflows) {
      assert.ok(!triggers(workflow).includes("pull_request_target") && !triggers(workflow).includes("workflow_run"), file);
    }
  });

  test("reconcile: on pushes to the default branch and by hand (with --prune), one at a time, never cancelled, with the publishing role", () => {
    const wf = byName("reconcile.yml");
    assert.deepEqual(Object.keys(wf.on as object).sort(), ["push", "workflow_dispatch"]);
    assert.deepEqual((wf.on as { push: { branches: string[] } }).push.branches, ["main"]);
    assert.equal((wf.on as { workflow_dispatch: { inputs: { prune: { type: string } } } }).workflow_dispatch.inputs.prune.type, "boolean");
    assert.ok(wf.concurrency?.group, "a concurrency group");
    assert.equal(wf.concurrency["cancel-in-progress"], false);
    const jobs = Object.values(wf.jobs);
    assert.equal(jobs.length, 1);
    const job = jobs[0]!;
    assert.match(job.if ?? "", /github\.ref == format\('refs\/heads\/\{0\}', github\.event\.repository\.default_branch\)/);
    assert.deepEqual(perms(job), { contents: "read", "id-token": "write" });
    const login = steps(job).find(isAwsLogin)!;
    assert.equal(login.with?.["role-to-assume"], "${{ vars.AWS_PUBLISH_ROLE_ARN }}");
    assert.equal(login.with?.["aws-region"], "${{ vars.AWS_REGION }}");
    const scripts = steps(job).map((s) => s.run ?? "").join("\n");
    assert.match(scripts, /npx tsx pipeline\/reconcile\.ts "\$\{args\[@\]\}"/);
    assert.match(scripts, /args\+=\(--prune\)/);
    assert.match(scripts, /npx tsx pipeline\/outputs\.ts --backend aws --format markdown >>"\$GITHUB_STEP_SUMMARY"/);
  });

  test("only reconcile may assume the publishing role; plan and drift use the read-only role", () => {
    for (const { file, raw } of workflows) {
      if (file !== "reconcile.yml") assert.ok(!raw.includes("AWS_PUBLISH_ROLE_ARN"), file);
    }
    for (const file of ["plan.yml", "drift.yml"]) {
      const logins = Object.values(byName(file).jobs).flatMap((j) => steps(j).filter(isAwsLogin));
      assert.equal(logins.length, 1, file);
      assert.equal(logins[0]!.with?.["role-to-assume"], "${{ vars.AWS_PLAN_ROLE_ARN }}");
    }
  });

  test("plan: pull requests of this repository plan against AWS and post one comment; forks get a labelled plan against no state, with nothing to leak", () => {
    const wf = byName("plan.yml");
    const paths = (wf.on as { pull_request: { paths: string[] } }).pull_request.paths;
    for (const p of ["layers.yaml", "schema/**", "pipeline/**", "buildspecs/**", "r-compile/**", "runtime/**"]) assert.ok(paths.includes(p), p);

    const jobs = Object.entries(wf.jobs);
    const trusted = jobs.filter(([, j]) => j.if?.includes(SAME_REPO));
    const forks = jobs.filter(([, j]) => j.if?.includes(FROM_FORK));
    assert.equal(trusted.length, 1);
    assert.equal(forks.length, 1);
    assert.equal(trusted.length + forks.length, jobs.length, "every job says which pull requests it serves");

    const [, aws] = trusted[0]!;
    assert.deepEqual(perms(aws), { contents: "read", "id-token": "write", "pull-requests": "write" });
    const names = steps(aws).map((s) => s.name ?? s.uses?.split("@")[0] ?? s.run);
    assert.ok(names.indexOf("Validate the manifest") < names.indexOf("aws-actions/configure-aws-credentials"), "validation before any credentials");
    const post = steps(aws).find((s) => s.run?.includes("pipeline/comment.ts"))!;
    assert.equal(post.env?.GITHUB_TOKEN, "${{ github.token }}");
    assert.equal(post.if, "${{ !cancelled() }}", "the comment is refreshed after a failure too");
    assert.match(steps(aws).map((s) => s.run ?? "").join("\n"), /npx tsx pipeline\/plan\.ts --backend aws --format markdown/);

    const [, fork] = forks[0]!;
    assert.deepEqual(perms(fork), { contents: "read" });
    const forkText = JSON.stringify(fork);
    for (const leak of ["secrets.", "vars.", "github.token", "id-token", "configure-aws-credentials", "comment.ts"]) {
      assert.ok(!forkText.includes(leak), `the fork job mentions ${leak}`);
    }
    const script = steps(fork).map((s) => s.run ?? "").join("\n");
    assert.match(script, /npx tsx pipeline\/plan\.ts --backend local --state "\$RUNNER_TEMP\/no-published-state" --format markdown/);
    assert.match(script, /Planned without AWS, against no published state/);
    assert.match(script, /GITHUB_STEP_SUMMARY/);
  });

  test("drift: on a schedule, plan live grants with --detailed-exitcode and fail on changes with the plan in the summary", () => {
    const wf = byName("drift.yml");
    assert.ok(triggers(wf).includes("schedule"));
    const script = Object.values(wf.jobs).flatMap(steps).map((s) => s.run ?? "").join("\n");
    assert.match(script, /npx tsx pipeline\/plan\.ts --backend aws --refresh-grants --format markdown --detailed-exitcode/);
    assert.match(script, /2\)\n[\s\S]*cat "\$RUNNER_TEMP\/drift\.md"[\s\S]*>>"\$GITHUB_STEP_SUMMARY"[\s\S]*exit 1/);
  });

  test("ci: on every push and pull request, runs .ci/run after installing every Debian package it needs", async () => {
    const wf = byName("ci.yml");
    assert.deepEqual(triggers(wf).sort(), ["pull_request", "push"]);
    const job = Object.values(wf.jobs)[0]!;
    const node = steps(job).find((s) => s.uses?.startsWith("actions/setup-node@"))!;
    assert.deepEqual(node.with, { "node-version": "20", cache: "npm" });
    const script = steps(job).map((s) => s.run ?? "").join("\n");
    assert.match(script, /^bash \.ci\/run$/m);
    // One list of system packages, in .ci/run, which escalates with sudo where it is not root.
    assert.doesNotMatch(script, /apt-get install/);
    const ciRun = await readFile(join(REPO, ".ci/run"), "utf8");
    assert.match(ciRun, /APT_PACKAGES=\(/);
    assert.match(ciRun, /\[ "\$\(id -u\)" -eq 0 \] \|\| sudo=\(sudo/);
  });

  test("every pipeline command a workflow runs exists and takes the flags it is given", async () => {
    const usage: Record<string, string> = {
      "pipeline/plan.ts": PLAN_USAGE,
      "pipeline/reconcile.ts": RECONCILE_USAGE,
      "pipeline/outputs.ts": OUTPUTS_USAGE,
      "pipeline/comment.ts": COMMENT_USAGE,
    };
    let checked = 0;
    for (const { file, workflow } of workflows) {
      for (const step of Object.values(workflow.jobs).flatMap(steps)) {
        const script = (step.run ?? "").replaceAll("\\\n", " ");
        const entries = [...new Set([...script.matchAll(/npx tsx (pipeline\/[\w/.-]+\.ts)/g)].map((m) => m[1]!))];
        if (entries.length === 0) continue;
        assert.equal(entries.length, 1, `${file}: one pipeline command per step`);
        const entry = entries[0]!;
        await access(join(REPO, entry));
        assert.ok(usage[entry], `${file}: ${entry} has a known usage text`);
        for (const flag of script.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []) {
          assert.ok(usage[entry].includes(flag), `${file}: ${entry} has no ${flag}`);
        }
        checked++;
      }
    }
    assert.ok(checked >= 7, `checked ${checked} commands`);
  });

  test("the rules catch a workflow that breaks them", () => {
    const raw = `on: [pull_request_target]
permissions: write-all
jobs:
  bad:
    runs-on: ubuntu-latest
    permissions:
      contents: write
      id-token: write
    steps:
      - uses: actions/checkout@v4
        with:
          ref: \${{ github.event.pull_request.head.sha }}
      - uses: aws-actions/configure-aws-credentials@e3dd6a429d7300a6a4c196c26e071d42e0343502
      - run: echo "\${{ github.event.pull_request.title }}" \${{ secrets.TOKEN }}
`;
    const problems = securityProblems({ file: "bad.yml", raw, workflow: parse(raw) as Workflow });
    const expected = [
      /top-level permissions must be \{\}/,
      /contents: write/,
      /no timeout-minutes/,
      /actions\/checkout@v4 is not pinned/,
      /checkout without persist-credentials: false/,
      /checks out pull-request code under pull_request_target/,
      /\$\{\{ \}\} inside run/,
      /uses secrets/,
      /bad\.yml:10: uses: needs a full SHA/,
      /bad\.yml:13: uses: needs a full SHA/,
      /credentials or a write token on pull requests from forks/,
    ];
    for (const pattern of expected) assert.ok(problems.some((p) => pattern.test(p)), `${pattern} in\n${problems.join("\n")}`);
  });
});

describe("the set-up documentation", () => {
  const DOCS = ["docs/guide.md", "docs/architecture.md", "infra/README.md"];
  const TOP = /^(?:pipeline|schema|infra|docs|\.github|r-compile|buildspecs|runtime|test|\.ci)\/|^(?:layers\.yaml|README\.md|package\.json)$/;

  test("every repository file or folder the pages name exists", async () => {
    let checked = 0;
    for (const doc of DOCS) {
      const text = await readFile(join(REPO, doc), "utf8");
      const names = new Set<string>();
      for (const m of text.matchAll(/`([^`\s]+)`/g)) if (TOP.test(m[1]!)) names.add(m[1]!);
      for (const m of text.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)) {
        if (!/^[a-z]+:/.test(m[1]!)) names.add(join(doc, "..", m[1]!));
      }
      for (const name of names) {
        // A template of a name (`<id>`, `…`) is not a file; a glob stands for its folder.
        if (/[<>…{}]/.test(name)) continue;
        await access(join(REPO, name.replace(/\*.*$/, ""))).catch(() => assert.fail(`${doc} names ${name}, which does not exist`));
        checked++;
      }
    }
    assert.ok(checked >= 20, `checked ${checked} names`);
  });

  test("every pipeline command the pages show exists and takes the flags shown", async () => {
    const usage: Record<string, string> = {
      "pipeline/plan.ts": PLAN_USAGE,
      "pipeline/reconcile.ts": RECONCILE_USAGE,
      "pipeline/outputs.ts": OUTPUTS_USAGE,
      "pipeline/comment.ts": COMMENT_USAGE,
    };
    const scripts = (JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    let checked = 0;
    for (const doc of DOCS) {
      const text = (await readFile(join(REPO, doc), "utf8")).replaceAll("\\\n", " ");
      for (const m of text.matchAll(/npx tsx (pipeline\/[\w/.-]+\.ts)([^\n`|]*)/g)) {
        const [entry, rest] = [m[1]!, m[2]!];
        assert.ok(usage[entry], `${doc}: ${entry}`);
        for (const flag of rest.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []) assert.ok(usage[entry].includes(flag), `${doc}: ${entry} ${flag}`);
        checked++;
      }
      for (const m of text.matchAll(/npm run ([\w:-]+)/g)) {
        assert.ok(scripts[m[1]!], `${doc}: npm run ${m[1]}`);
        checked++;
      }
    }
    assert.ok(checked >= 8, `checked ${checked} commands`);
  });

  test("the deploy command in infra/README.md names every required parameter of the template", async () => {
    const readme = (await readFile(join(REPO, "infra/README.md"), "utf8")).replaceAll("\\\n", " ");
    const template = await readFile(join(REPO, "infra/r-lambda-layers.yaml"), "utf8");
    const command = /aws cloudformation deploy[^`]*/.exec(readme)?.[0] ?? "";
    assert.match(command, /--template-file infra\/r-lambda-layers\.yaml/);
    assert.match(command, /--capabilities CAPABILITY_IAM/);
    const params = template.slice(template.indexOf("\nParameters:"), template.indexOf("\nConditions:"));
    const required = [...params.matchAll(/^ {2}(\w+):\n((?: {4}.*\n)+)/gm)].filter((m) => !m[2]!.includes("Default:")).map((m) => m[1]!);
    assert.deepEqual(required.sort(), ["GitHubOrg", "GitHubRepo", "HomeRegion"]);
    for (const p of required) assert.match(command, new RegExp(`\\b${p}=`), p);
  });
});

describe("pipeline/tools/actionlint.ts", () => {
  test("finds every run: script at its line in the workflow", () => {
    const source = "on: push\njobs:\n  a:\n    steps:\n      - run: echo one\n      - name: two\n        run: |\n          a=1\n          echo \"$a\"\n      - run: Write-Host x\n        shell: pwsh\n";
    assert.deepEqual(runScripts(source), [
      { script: "echo one", firstLine: 5 },
      { script: 'a=1\necho "$a"\n', firstLine: 8 },
    ]);
  });

  test("every run: script of the workflows passes shellcheck, reported at workflow lines", async () => {
    const bad = await shellcheck("bad.yml", runScripts("jobs:\n  a:\n    steps:\n      - run: |\n          cd $HOME\n"));
    assert.equal(bad.length, 1);
    assert.match(bad[0]!, /^bad\.yml:5:\d+: .*\[SC2086\] \[shellcheck\]$/);
    for (const { file, raw } of workflows) assert.deepEqual(await shellcheck(file, runScripts(raw)), [], file);
  });
});
