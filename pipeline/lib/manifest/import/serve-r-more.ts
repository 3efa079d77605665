/**
 * serveRmore's `~/serveRmore.yaml`: `builder.cran_r_package_names` becomes a packages layer.
 * serveRmore built its layers on an EC2 instance; settings of that instance either have an
 * equivalent here (its size → `builder.computeType`, the region → the layer's `regions`) or are
 * not needed (CodeBuild runs the builds), and any other key is reported as not mapped.
 */
import { isMap, isScalar, isSeq, parseDocument } from "yaml";
import type { Node } from "yaml";
import { UsageError } from "../../errors.ts";
import { installable, layerNameFrom, REGION, rVersionFinding } from "./common.ts";
import type { ImportContext, ImportFinding, Imported } from "./types.ts";

const NO_INSTANCE = "builds run in CodeBuild on the Lambda build image, not on an instance of yours";
/** Keys that configured serveRmore's build instance or its AWS access, with why they are not needed. */
const NOT_NEEDED: Readonly<Record<string, string>> = {
  ami: `${NO_INSTANCE} (builder.images names that image)`,
  ami_id: `${NO_INSTANCE} (builder.images names that image)`,
  key_name: NO_INSTANCE,
  key_pair: NO_INSTANCE,
  ssh_key: NO_INSTANCE,
  subnet_id: NO_INSTANCE,
  security_group: NO_INSTANCE,
  security_group_id: NO_INSTANCE,
  security_group_ids: NO_INSTANCE,
  iam_instance_profile: NO_INSTANCE,
  instance_profile: NO_INSTANCE,
  volume_size: NO_INSTANCE,
  terminate_on_completion: NO_INSTANCE,
  s3_bucket: "artifacts go to artifacts.bucket, one bucket per region",
  bucket: "artifacts go to artifacts.bucket, one bucket per region",
  profile: "credentials come from the environment (AWS_PROFILE, or the workflow's role)",
  aws_profile: "credentials come from the environment (AWS_PROFILE, or the workflow's role)",
};

/** CodeBuild's Linux compute types, smallest first, with their vCPUs. */
const COMPUTE_TYPES: readonly (readonly [string, number])[] = [
  ["BUILD_GENERAL1_SMALL", 2],
  ["BUILD_GENERAL1_MEDIUM", 4],
  ["BUILD_GENERAL1_LARGE", 8],
  ["BUILD_GENERAL1_XLARGE", 36],
  ["BUILD_GENERAL1_2XLARGE", 72],
];

/** vCPUs of an EC2 instance size (`m5.xlarge` → 4); undefined for what does not look like one. */
function vcpus(instanceType: string): number | undefined {
  const size = /^[a-z][a-z0-9-]*\.([a-z0-9]+)$/.exec(instanceType)?.[1];
  if (size === undefined) return undefined;
  if (["nano", "micro", "small", "medium", "large"].includes(size)) return 2;
  if (size === "xlarge") return 4;
  const n = /^(\d+)xlarge$/.exec(size)?.[1];
  if (n !== undefined) return 4 * Number(n);
  return size === "metal" ? 96 : undefined;
}

function computeTypeFor(cpus: number): string {
  return (COMPUTE_TYPES.find(([, c]) => c >= cpus) ?? COMPUTE_TYPES[COMPUTE_TYPES.length - 1])?.[0] as string;
}
const rank = (computeType: string | undefined) => COMPUTE_TYPES.findIndex(([name]) => name === (computeType ?? "BUILD_GENERAL1_LARGE"));

export function looksLikeServeRmore(text: string): boolean {
  return /^\s*cran_r_package_names\s*:/m.test(text);
}

export function importServeRmore(text: string, context: ImportContext): Imported {
  const doc = parseDocument(text, { version: "1.2" });
  if (doc.errors.length) throw new UsageError(`${context.file} is not valid YAML: ${doc.errors[0]?.message.split("\n")[0] ?? ""}`);
  const root = doc.contents;
  if (!isMap(root)) throw new UsageError(`${context.file} is not a serveRmore configuration (a YAML mapping with builder.cran_r_package_names)`);

  const findings: ImportFinding[] = [];
  let packages: string[] | undefined;
  let regions: string[] | undefined;
  let computeType: string | undefined;
  let layerName: string | undefined;

  const scalar = (node: unknown): string | undefined => (isScalar(node) && node.value !== null ? String(node.value) : undefined);
  const visit = (node: Node | null, prefix: string) => {
    if (!isMap(node)) return;
    for (const pair of node.items) {
      const name = scalar(pair.key) ?? "";
      const key = prefix ? `${prefix}.${name}` : name;
      const value = pair.value as Node | null;
      if (name === "builder" && !prefix) {
        visit(value, "builder");
        continue;
      }
      if (name === "cran_r_package_names") {
        if (!isSeq(value)) {
          findings.push({ outcome: "not-mapped", key, detail: "is not a list of package names" });
          continue;
        }
        const names = value.items.map(scalar).filter((n): n is string => n !== undefined);
        packages = installable(names, key, findings);
        findings.push({ outcome: "mapped", key, detail: `packages: ${packages.join(", ")}` });
      } else if (name === "region" || name === "aws_region") {
        const region = scalar(value) ?? "";
        if (!REGION.test(region)) findings.push({ outcome: "not-mapped", key, detail: `${JSON.stringify(region)} is not an AWS region code` });
        else if (context.defaultRegions.includes(region)) {
          findings.push({ outcome: "not-needed", key, detail: `${region} is already in defaults.regions, where every layer is published` });
        } else {
          regions = [region];
          findings.push({ outcome: "mapped", key, detail: `regions: [${region}] (the layer is published there; defaults.regions are ${context.defaultRegions.join(", ") || "none"})` });
        }
      } else if (name === "instance_type") {
        const type = scalar(value) ?? "";
        const cpus = vcpus(type);
        if (cpus === undefined) {
          findings.push({ outcome: "not-mapped", key, detail: `${JSON.stringify(type)} is not an EC2 instance type` });
          continue;
        }
        const wanted = computeTypeFor(cpus);
        if (rank(wanted) <= rank(context.computeType)) {
          findings.push({
            outcome: "not-needed",
            key,
            detail: `${type} (${cpus} vCPUs) is at most ${wanted}; builder.computeType is already ${context.computeType ?? "BUILD_GENERAL1_LARGE (the default)"}`,
          });
        } else {
          computeType = wanted;
          findings.push({ outcome: "mapped", key, detail: `builder.computeType: ${wanted} (${type} has ${cpus} vCPUs; it applies to every build)` });
        }
      } else if (name === "r_version") {
        rVersionFinding(scalar(value) ?? "", key, context.rVersions, findings);
      } else if (name === "layer_name") {
        layerName = layerNameFrom(scalar(value), "imported");
        findings.push({ outcome: "mapped", key, detail: `the layer's name (unless --layer is given): ${layerName}` });
      } else if (Object.hasOwn(NOT_NEEDED, name)) {
        findings.push({ outcome: "not-needed", key, detail: NOT_NEEDED[name] as string });
      } else {
        findings.push({ outcome: "not-mapped", key, detail: "unknown serveRmore key: nothing here corresponds to it" });
      }
    }
  };
  visit(root, "");

  if (packages === undefined) throw new UsageError(`${context.file} has no builder.cran_r_package_names: there are no packages to import`);
  return {
    format: "serveRmore",
    layerName: layerName ?? "imported",
    packages,
    layer: { description: `imported from ${basename(context.file)}`, ...(regions ? { regions } : {}) },
    ...(computeType ? { computeType } : {}),
    findings,
  };
}

const basename = (file: string) => file.replace(/^.*[/\\]/, "");
