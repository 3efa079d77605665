/**
 * The GitHub Actions workflows, parsed, held to their security properties: permissions per job,
 * actions pinned to a commit, no credentials left by checkout, no privileged run of fork code,
 * one reconcile at a time, no value spliced into a script; and every command they run exists.
 */
import { outsideCode } from "./support/markdown.ts";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { access, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { parse } from "yaml";
import { OUTPUTS_USAGE } from "../pipeline/lib/cli/outputs-command.ts";
import { PLAN_USAGE } from "../pipeline/lib/cli/plan-command.ts";
import { RECONCILE_USAGE } from "../pipeline/lib/cli/reconcile-command.ts";
import { COMMENT_USAGE } from "../pipeline/lib/github/comment-command.ts";
import { runScripts, shellcheck } from "../pipeline/tools/actionlint.ts";
import { REPO } from "./support/cli.ts";
import { effectiveCommands } from "./support/runner-log.ts";

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
  needs?: string | string[];
  environment?: string | { name: string };
  outputs?: Record<string, string>;
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

  test("reconcile: on pushes to the default branch and by hand, in the publish environment, one at a time with drift, never cancelled", () => {
    const wf = byName("reconcile.yml");
    assert.deepEqual(Object.keys(wf.on as object).sort(), ["push", "workflow_dispatch"]);
    assert.deepEqual((wf.on as { push: { branches: string[] } }).push.branches, ["main"]);
    assert.equal((wf.on as { workflow_dispatch: { inputs: { prune: { type: string } } } }).workflow_dispatch.inputs.prune.type, "boolean");
    assert.deepEqual(Object.keys(wf.jobs), ["reconcile", "prune-plan", "prune-approval", "prune"]);
    const job = wf.jobs.reconcile!;
    assert.match(job.if ?? "", /github\.ref == format\('refs\/heads\/\{0\}', github\.event\.repository\.default_branch\)/);
    assert.match(job.if ?? "", /!inputs\.prune/, "a prune never runs without its approval");
    assert.equal(job.environment, "publish");
    assert.deepEqual(perms(job), { contents: "read", "id-token": "write" });
    const login = steps(job).find(isAwsLogin)!;
    assert.equal(login.with?.["role-to-assume"], "${{ vars.AWS_PUBLISH_ROLE_ARN }}");
    assert.equal(login.with?.["aws-region"], "${{ vars.AWS_REGION }}");
    const scripts = steps(job).map((s) => s.run ?? "").join("\n");
    assert.match(scripts, /npx tsx pipeline\/reconcile\.ts "\$\{args\[@\]\}"/);
    assert.doesNotMatch(scripts, /--prune/);
    assert.match(scripts, /npx tsx pipeline\/outputs\.ts --backend aws --format markdown >>"\$GITHUB_STEP_SUMMARY"/);
    // A failure's error output is quoted in the log and fenced in the summary.
    assert.match(scripts, /log-text\.sh quote "\$RUNNER_TEMP\/reconcile\.err"/);
    assert.match(scripts, /log-text\.sh fence "\$RUNNER_TEMP\/reconcile\.err"[\s\S]*>>"\$GITHUB_STEP_SUMMARY"/);
    for (const { file, workflow } of workflows) {
      for (const [id, j] of Object.entries(workflow.jobs)) {
        if (!steps(j).some(isAwsLogin) || j.environment === "publish-prune") continue;
        if (file === "reconcile.yml" && id === "prune-plan") continue;
        if (file === "plan.yml") continue;
        // Every job that can change or observe the account mid-reconcile queues in one group.
        assert.deepEqual(j.concurrency, { group: "r-lambda-layers-reconcile", "cancel-in-progress": false }, `${file} ${id}`);
      }
    }
    assert.equal(wf.concurrency, undefined, "waiting for an approval holds no one up");
  });

  test("reconcile with prune: a plan job shows the deletions, a reviewer approves them in publish-prune, then the pruning job checks they are unchanged", () => {
    const wf = byName("reconcile.yml");
    const plan = wf.jobs["prune-plan"]!;
    assert.match(plan.if ?? "", /inputs\.prune/);
    assert.match(plan.if ?? "", /default_branch/);
    assert.equal(plan.environment, undefined);
    assert.equal(steps(plan).find(isAwsLogin)!.with?.["role-to-assume"], "${{ vars.AWS_PLAN_ROLE_ARN }}", "planned with the read-only role");
    const planScript = steps(plan).map((s) => s.run ?? "").join("\n");
    assert.match(planScript, /npx tsx pipeline\/plan\.ts --backend aws --prune --format markdown/);
    assert.match(planScript, /cat "\$RUNNER_TEMP\/prune\.md"[\s\S]*>>"\$GITHUB_STEP_SUMMARY"/);

    const approval = wf.jobs["prune-approval"]!;
    assert.deepEqual(approval.needs, "prune-plan");
    assert.equal(approval.environment, "publish-prune");
    assert.deepEqual(perms(approval), { actions: "read" });
    assert.ok(!steps(approval).some(isAwsLogin) && !steps(approval).some(isCheckout), "the approval job holds nothing");
    assert.match(steps(approval).map((s) => s.run ?? "").join("\n"), /required_reviewers/);

    const prune = wf.jobs.prune!;
    assert.deepEqual(prune.needs, ["prune-plan", "prune-approval"]);
    assert.equal(prune.if, undefined, "runs only when the approval succeeded");
    assert.equal(prune.environment, "publish");
    const names = steps(prune).map((s) => s.name ?? s.uses?.split("@")[0]);
    assert.ok(names.indexOf("The deletions are the ones approved") < names.indexOf("Reconcile with --prune"));
    const script = steps(prune).map((s) => s.run ?? "").join("\n");
    assert.match(script, /args\+=\(--prune\)/);
    assert.equal(steps(prune).find((s) => s.name === "The deletions are the ones approved")!.env?.APPROVED, "${{ needs.prune-plan.outputs.deletions }}");
    // The digest is taken over the plan's deletion lines, as the markdown renderer writes them.
    assert.match(planScript, /grep '\^> - '/);
    assert.match(script, /grep '\^> - '/);
  });

  test("only jobs in the publish environment log in with the publishing role, and no other job runs in it", () => {
    for (const { file, workflow } of workflows) {
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const publishes = steps(job).some((s) => isAwsLogin(s) && s.with?.["role-to-assume"] === "${{ vars.AWS_PUBLISH_ROLE_ARN }}");
        const env = typeof job.environment === "object" ? job.environment.name : job.environment;
        assert.equal(publishes, env === "publish", `${file} job ${id}`);
        if (env === "publish") assert.equal(file, "reconcile.yml");
      }
    }
  });

  test("plan: pull requests of this repository plan against AWS and post one comment; forks get a labelled plan against no state, with nothing to leak", () => {
    const wf = byName("plan.yml");
    assert.deepEqual(Object.keys(wf.on as object).sort(), ["merge_group", "pull_request"]);
    assert.equal((wf.on as { pull_request: unknown }).pull_request, null, "no paths: filter, so the check always reports");

    const aws = wf.jobs["plan-aws"]!;
    assert.ok(aws.if?.includes(SAME_REPO));
    assert.match(aws.if ?? "", /needs\.changes\.outputs\.plan == 'true'/);
    assert.deepEqual(perms(aws), { contents: "read", "id-token": "write", "pull-requests": "write" });
    const names = steps(aws).map((s) => s.name ?? s.uses?.split("@")[0] ?? s.run);
    assert.ok(names.indexOf("Validate the manifest") < names.indexOf("aws-actions/configure-aws-credentials"), "validation before any credentials");
    const post = steps(aws).find((s) => s.run?.includes("pipeline/comment.ts"))!;
    assert.equal(post.env?.GITHUB_TOKEN, "${{ github.token }}");
    assert.equal(post.if, "${{ !cancelled() }}", "the comment is refreshed after a failure too");
    assert.match(steps(aws).map((s) => s.run ?? "").join("\n"), /npx tsx pipeline\/plan\.ts --backend aws --format markdown/);

    const fork = wf.jobs["plan-offline"]!;
    assert.ok(fork.if?.includes(FROM_FORK) && fork.if.includes("merge_group"));
    assert.deepEqual(perms(fork), { contents: "read" });
    const forkText = JSON.stringify(fork);
    for (const leak of ["secrets.", "vars.", "github.token", "id-token", "configure-aws-credentials", "comment.ts"]) {
      assert.ok(!forkText.includes(leak), `the fork job mentions ${leak}`);
    }
    const script = steps(fork).map((s) => s.run ?? "").join("\n");
    assert.match(script, /npx tsx pipeline\/plan\.ts --backend local --state "\$RUNNER_TEMP\/no-published-state" --format markdown/);
    assert.match(script, /Planned without AWS, against no published state/);
    assert.match(script, /GITHUB_STEP_SUMMARY/);
    for (const job of [aws, fork]) assert.equal(steps(job).find((s) => s.name === "Validate the manifest")!.run, "bash .github/scripts/validate-manifest.sh");
  });

  test("plan: the `plan` check always runs, runs no code, and passes only when the plan it stands for passed; a fork cannot pass it by being skipped", async () => {
    const wf = byName("plan.yml");
    const gate = wf.jobs.plan!;
    assert.equal(gate.name, "plan");
    assert.equal(gate.if, "always()", "reports even when what it needs failed, was skipped or cancelled");
    assert.deepEqual(gate.needs, ["changes", "plan-aws", "plan-offline"]);
    assert.deepEqual(gate.permissions, {});
    assert.ok(steps(gate).every((s) => s.uses === undefined), "no checkout: nothing from the pull request runs");
    const step = steps(gate)[0]!;
    assert.equal(step.env?.TRUSTED, `\${{ github.event_name == 'pull_request' && ${SAME_REPO} && github.actor != 'dependabot[bot]' }}`);

    const work = await mkdtemp(join(tmpdir(), "rll-gate-"));
    const decide = async (env: Record<string, string>) => {
      const summary = join(work, "summary.md");
      const r = spawnSync("bash", ["-c", step.run!], { env: { PATH: process.env.PATH, GITHUB_STEP_SUMMARY: summary, CHANGES: "success", EVENT: "pull_request", ...env }, encoding: "utf8" });
      return { status: r.status, out: r.stdout };
    };
    try {
      const trusted = { TRUSTED: "true", PLANS: "true" };
      const fork = { TRUSTED: "false", PLANS: "true", AWS_PLAN: "skipped" };
      assert.equal((await decide({ ...trusted, PLANS: "false", AWS_PLAN: "skipped", OFFLINE_PLAN: "skipped" })).status, 0, "untouched: passes trivially");
      assert.equal((await decide({ ...fork, PLANS: "false", OFFLINE_PLAN: "skipped" })).status, 0, "a fork that touches nothing the plan reads");
      assert.equal((await decide({ ...trusted, AWS_PLAN: "success", OFFLINE_PLAN: "skipped" })).status, 0);
      for (const result of ["failure", "skipped", "cancelled"]) {
        assert.equal((await decide({ ...trusted, AWS_PLAN: result, OFFLINE_PLAN: "skipped" })).status, 1, `plan against AWS ${result}`);
      }
      const forked = await decide({ ...fork, OFFLINE_PLAN: "success" });
      assert.equal(forked.status, 1, "a fork that changes what is published has no plan against AWS");
      assert.match(forked.out, /^::error title=plan::.*fork or Dependabot/m);
      assert.equal((await decide({ ...fork, EVENT: "merge_group", OFFLINE_PLAN: "success" })).status, 0);
      assert.equal((await decide({ ...fork, EVENT: "merge_group", OFFLINE_PLAN: "failure" })).status, 1);
      assert.equal((await decide({ ...trusted, CHANGES: "failure", PLANS: "" })).status, 1);
    } finally {
      await rm(work, { recursive: true, force: true });
    }

    // What the plan reads is decided inside a job, with git, not with a paths: filter.
    const changes = steps(wf.jobs.changes!).map((s) => s.run ?? "").join("\n");
    assert.match(changes, /git diff --name-only HEAD\^1 HEAD/);
    for (const p of ["layers\\.yaml", "schema/", "pipeline/", "buildspecs/", "r-compile/", "runtime/", "package\\.json"]) assert.ok(changes.includes(p), p);
    assert.equal(wf.jobs.changes!.steps![0]!.with?.["fetch-depth"], 2);
  });

  test("the checks to require report on every pull request and merge group under the names the guide gives", async () => {
    const guide = await readFile(join(REPO, "docs/guide.md"), "utf8");
    const always: string[] = [];
    for (const { file, workflow } of workflows) {
      const on = triggers(workflow);
      if (!on.includes("pull_request")) continue;
      assert.ok(on.includes("merge_group"), `${file}: merge queues need merge_group`);
      assert.equal((workflow.on as Record<string, unknown>).pull_request, null, `${file}: no filter on pull_request`);
      // The check: a job that always runs and that no other job waits for (the end of the line).
      const needed = new Set(Object.values(workflow.jobs).flatMap((j) => [j.needs ?? []].flat()));
      const jobs = Object.entries(workflow.jobs).filter(([id, j]) => (j.if === undefined || j.if === "always()") && !needed.has(id)).map(([, j]) => j);
      assert.equal(jobs.length, 1, `${file}: one job that always runs`);
      always.push(jobs[0]!.name!);
    }
    assert.deepEqual(always.sort(), ["ci", "plan"]);
    const section = guide.slice(guide.indexOf("### Required checks")).replace(/[ \n]+/g, " ");
    assert.match(section, /require exactly these status checks: `ci` and `plan`/);
    for (const other of ["plan against AWS", "plan without AWS", "checks", "what the plan reads"]) {
      assert.ok(!section.slice(0, section.indexOf(" ## ")).includes(`require \`${other}\``), other);
    }
  });

  test("drift: on a schedule, plan live grants with --detailed-exitcode and fail on changes with the plan in the summary", () => {
    const wf = byName("drift.yml");
    assert.ok(triggers(wf).includes("schedule"));
    const job = wf.jobs.drift!;
    assert.deepEqual(job.concurrency, byName("reconcile.yml").jobs.reconcile!.concurrency, "the reconcile's group: it waits for a running reconcile");
    const script = steps(job).map((s) => s.run ?? "").join("\n");
    assert.match(script, /npx tsx pipeline\/plan\.ts --backend aws --refresh-grants --format markdown --detailed-exitcode/);
    assert.match(script, /2\)\n[\s\S]*cat "\$RUNNER_TEMP\/drift\.md"[\s\S]*>>"\$GITHUB_STEP_SUMMARY"[\s\S]*exit 1/);
    assert.match(script, /log-text\.sh quote "\$RUNNER_TEMP\/drift\.err"/);
  });

  test("ci: on every push, pull request and merge group, runs .ci/run after installing every Debian package it needs", async () => {
    const wf = byName("ci.yml");
    assert.deepEqual(triggers(wf).sort(), ["merge_group", "pull_request", "push"]);
    const job = Object.values(wf.jobs)[0]!;
    const node = steps(job).find((s) => s.uses?.startsWith("actions/setup-node@"))!;
    assert.deepEqual(node.with, { "node-version": "24", cache: "npm" });
    const script = steps(job).map((s) => s.run ?? "").join("\n");
    assert.match(script, /^bash \.ci\/run$/m);
    // One list of system packages, in .ci/run, which escalates with sudo where it is not root.
    assert.doesNotMatch(script, /apt-get install/);
    const ciRun = await readFile(join(REPO, ".ci/run"), "utf8");
    assert.match(ciRun, /APT_PACKAGES=\(/);
    assert.match(ciRun, /\[ "\$\(id -u\)" -eq 0 \] \|\| sudo=\(sudo/);
    assert.match(ciRun, /^npm test$/m, "the suite on the machine's Node (20.19+)");
  });

  test("no dependency cache and no install scripts in a job that can get AWS credentials; every workflow runs Node 24", async () => {
    for (const { file, workflow } of workflows) {
      for (const [id, job] of Object.entries(workflow.jobs)) {
        const where = `${file} job ${id}`;
        const aws = perms(job)["id-token"] === "write" || steps(job).some(isAwsLogin);
        for (const step of steps(job)) {
          if (step.uses?.startsWith("actions/setup-node@")) {
            assert.equal(step.with?.["node-version"], "24", where);
            if (aws) {
              assert.equal(step.with?.["package-manager-cache"], false, `${where}: setup-node caches by default from v5`);
              assert.equal(step.with?.cache, undefined, where);
            }
          }
          if (aws && step.uses?.startsWith("actions/cache")) assert.fail(`${where}: ${step.uses}`);
          if (aws && /\bnpm (ci|install)\b/.test(step.run ?? "")) assert.match(step.run!, /npm ci --ignore-scripts/, where);
        }
      }
    }
    const pkg = JSON.parse(await readFile(join(REPO, "package.json"), "utf8")) as { engines: { node: string } };
    assert.equal(pkg.engines.node, ">=20.19", "the project itself still runs on Node 20.19");
  });

  test("actions are current majors on node24, pinned by SHA, and Dependabot keeps them and npm up to date weekly, grouped", async () => {
    const MIN_MAJOR: Record<string, number> = { "actions/checkout": 5, "actions/setup-node": 5, "aws-actions/configure-aws-credentials": 5 };
    for (const { file, raw } of workflows) {
      for (const m of raw.matchAll(/uses:\s*([^@\s]+)@([0-9a-f]{40}) # v(\d+)[.\d]*/g)) {
        assert.ok(Number(m[3]) >= MIN_MAJOR[m[1]!]!, `${file}: ${m[1]} v${m[3]} runs on node20`);
      }
    }
    const dependabot = parse(await readFile(join(REPO, ".github/dependabot.yml"), "utf8")) as {
      version: number;
      updates: { "package-ecosystem": string; directory: string; schedule: { interval: string }; groups?: Record<string, { patterns: string[] }> }[];
    };
    assert.equal(dependabot.version, 2);
    assert.deepEqual(dependabot.updates.map((u) => u["package-ecosystem"]).sort(), ["github-actions", "npm"]);
    for (const u of dependabot.updates) {
      assert.equal(u.schedule.interval, "weekly");
      assert.deepEqual(Object.values(u.groups ?? {}).flatMap((g) => g.patterns), ["*"], `${u["package-ecosystem"]}: one grouped pull request`);
    }
  });

  test("jobs that reconcile check out the whole history (the stale-commit guard needs it); pull-request plans check layers.lock", () => {
    const reconcile = byName("reconcile.yml");
    let reconciling = 0;
    for (const [id, job] of Object.entries(reconcile.jobs)) {
      if (!steps(job).some((s) => /pipeline\/reconcile\.ts/.test(s.run ?? ""))) continue;
      reconciling++;
      const checkout = steps(job).find(isCheckout);
      assert.equal(String(checkout?.with?.["fetch-depth"]), "0", `reconcile.yml job ${id} fetches the whole history`);
    }
    assert.ok(reconciling >= 2, "the reconcile and the prune jobs");
    const plan = byName("plan.yml");
    for (const id of ["plan-aws", "plan-offline"]) {
      const job = plan.jobs[id];
      assert.ok(job && steps(job).some((s) => /npm run --silent lock -- --check/.test(s.run ?? "")), `plan.yml job ${id} runs npm run lock -- --check`);
    }
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

  test("the scripts the workflows run call only pipeline commands that exist, with flags they take", async () => {
    let checked = 0;
    for (const name of await readdir(join(REPO, ".github/scripts"))) {
      const text = (await readFile(join(REPO, ".github/scripts", name), "utf8")).replaceAll("\\\n", " ");
      for (const m of text.matchAll(/npx tsx (pipeline\/[\w/.-]+\.ts)([^\n)]*)/g)) {
        assert.equal(m[1], "pipeline/plan.ts", name);
        for (const flag of m[2]!.match(/(?<![\w-])--[a-z][a-z-]*/g) ?? []) assert.ok(PLAN_USAGE.includes(flag), `${name}: ${flag}`);
        checked++;
      }
    }
    assert.ok(checked >= 1);
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

describe("what the workflows write cannot be forged by a manifest or a build", () => {
  const SCRIPTS = join(REPO, ".github/scripts");
  const FORGED_HEADING = "### Plan: nothing to change, safe to merge";
  const FORGED_COMMAND = "::warning title=Reviewed::plan approved by platform team";

  async function withWork<T>(body: (dir: string) => Promise<T>): Promise<T> {
    const dir = await mkdtemp(join(tmpdir(), "rll-wf-"));
    try {
      return await body(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  test("log-text.sh quote: no line of the text is read as a workflow command, whatever it holds", async () => {
    await withWork(async (dir) => {
      const text = [FORGED_COMMAND, "   ::error::indented", "npm ERR! ##[warning]legacy form mid-line", "::stop-commands::mine", "::mine::", "::add-mask::x"].join("\n");
      await writeFile(join(dir, "err"), text); // no final newline: the resume marker must still start a line
      const r = spawnSync("bash", [join(SCRIPTS, "log-text.sh"), "quote", join(dir, "err")], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.includes(text), "the text itself is kept");
      assert.deepEqual(effectiveCommands(r.stdout), []);
      const lines = r.stdout.trimEnd().split("\n");
      const token = /^::stop-commands::([0-9a-f]{32})$/.exec(lines[0]!)?.[1];
      assert.ok(token, lines[0]);
      assert.equal(lines.at(-1), `::${token}::`);
    });
  });

  test("log-text.sh fence: a fence longer than any run of backticks in the text", async () => {
    await withWork(async (dir) => {
      await writeFile(join(dir, "err"), `x\n\`\`\`\`\`\n${FORGED_HEADING}\n`);
      const r = spawnSync("bash", [join(SCRIPTS, "log-text.sh"), "fence", join(dir, "err")], { encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.startsWith("``````text\n") && r.stdout.endsWith("\n``````\n"), r.stdout);
      assert.deepEqual(outsideCode(`intro\n${r.stdout}after`), ["intro", "after"]);
    });
  });

  test("validate-manifest.sh: a manifest key with a newline, a fence and a heading, or a workflow command, forges neither the comment nor an annotation", async () => {
    await withWork(async (dir) => {
      const layers = await readFile(join(REPO, "layers.yaml"), "utf8");
      const attack = `${JSON.stringify(`x\n\`\`\`\n\n${FORGED_HEADING}\n\nAll layers are up to date.\n<details>`)}: 1\n${JSON.stringify(`y\n${FORGED_COMMAND}\n##[notice]legacy`)}: 2\n`;
      await writeFile(join(dir, "layers.yaml"), `${layers}${attack}`);
      for (const entry of ["pipeline", "schema", "r-compile", "buildspecs", "runtime", "node_modules", "package.json"]) {
        await symlink(join(REPO, entry), join(dir, entry));
      }
      // `npx tsx …` as on the runner, without the registry.
      await mkdir(join(dir, "bin"));
      await writeFile(join(dir, "bin", "npx"), `#!/bin/sh\nshift\nexec "${join(REPO, "node_modules/.bin/tsx")}" "$@"\n`, { mode: 0o755 });
      await mkdir(join(dir, "tmp"));
      const r = spawnSync("bash", [join(SCRIPTS, "validate-manifest.sh")], {
        cwd: dir,
        encoding: "utf8",
        env: { PATH: `${join(dir, "bin")}:${process.env.PATH}`, HOME: process.env.HOME, RUNNER_TEMP: join(dir, "tmp"), GITHUB_OUTPUT: join(dir, "output"), GITHUB_ACTIONS: "true", NO_COLOR: "1" },
      });
      assert.equal(r.status, 1, r.stdout + r.stderr);

      // The raw log: the attack strings are there, but the runner reads only real annotations on layers.yaml.
      const log = r.stdout + r.stderr;
      assert.ok(log.includes(FORGED_COMMAND), "the text is shown, not dropped");
      const commands = effectiveCommands(log);
      assert.equal(commands.length, 2, "one annotation per problem, nothing else");
      for (const c of commands) {
        assert.equal(c.name, "error", c.line);
        assert.match(c.props, /^file=layers\.yaml,line=\d+,col=\d+,title=/, c.line);
        assert.doesNotMatch(c.data, /\n/);
      }
      // The key's text reaches an annotation only escaped, inside the error about it.
      assert.ok(!commands.some((c) => c.name !== "error" || c.line.startsWith("::warning")));

      // The comment: the heading and the rest of the manifest's text stay inside the code block.
      assert.equal(await readFile(join(dir, "output"), "utf8"), `body=${join(dir, "tmp", "plan.md")}\n`);
      const md = await readFile(join(dir, "tmp", "plan.md"), "utf8");
      assert.ok(md.includes(FORGED_HEADING), "the message is shown");
      const visible = outsideCode(md);
      assert.deepEqual(visible.filter((l) => l.startsWith("#")), ["### r-lambda-layers plan"]);
      assert.ok(!visible.some((l) => l.includes("up to date") || l.includes("<details>") || l.includes(FORGED_COMMAND)), visible.join("\n"));
      assert.ok(visible.some((l) => l.includes("The manifest is invalid")));
    });
  });
});
