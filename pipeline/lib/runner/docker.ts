/**
 * Building inside the Lambda image with Docker: the command lines, and whether an engine is
 * there to run them. Pure argv construction, so it is tested without an engine.
 */
import type { Arch } from "../manifest/types.ts";
import type { Shell } from "./buildspec.ts";
import { captureProcess, spawnProcess } from "./process.ts";
import type { ProcessRunner } from "./process.ts";

export const PLATFORMS: Readonly<Record<Arch, string>> = { x86_64: "linux/amd64", arm64: "linux/arm64" };

export interface Mount {
  readonly host: string;
  readonly container: string;
  readonly readOnly?: boolean;
}

export interface DockerOptions {
  readonly image: string;
  readonly arch: Arch;
  /** The source checkout's path inside the container (CODEBUILD_SRC_DIR there). */
  readonly sourceMount: string;
  /** The source checkout first, then e.g. the local artifact folder. */
  readonly mounts: readonly Mount[];
  /** Who runs the non-install phases: the caller's ids, so files written to mounts are theirs. */
  readonly user: { readonly uid: number; readonly gid: number };
  /** The docker client to call; default `docker`. */
  readonly docker?: string;
}

function volume(m: Mount): string {
  if (m.host.includes(":") || m.container.includes(":")) throw new Error(`a mount path cannot contain ':' (${m.host})`);
  return `${m.host}:${m.container}${m.readOnly ? ":ro" : ""}`;
}

/**
 * `docker run` for the long-lived build container. The image's entrypoint (the Lambda runtime
 * interface emulator) is replaced, as CodeBuild ignores it too.
 */
export function dockerRunArgv(options: DockerOptions, name: string, stateMount: Mount): string[] {
  const argv = ["run", "--detach", "--rm", "--name", name, "--platform", PLATFORMS[options.arch]];
  for (const m of [...options.mounts, stateMount]) argv.push("--volume", volume(m));
  argv.push("--workdir", options.sourceMount, "--entrypoint", "sleep", options.image, "infinity");
  return argv;
}

/** `docker exec` for one command script: as root for the install phase, as the caller otherwise. */
export function dockerExecArgv(options: DockerOptions, container: string, privileged: boolean, shell: Shell, script: string): string[] {
  const user = privileged ? "0:0" : `${options.user.uid}:${options.user.gid}`;
  const argv = ["exec", "--user", user];
  if (!privileged) argv.push("--env", "HOME=/tmp");
  argv.push(container);
  if (shell === "bash") argv.push("/bin/bash", "--noprofile", "--norc", script);
  else argv.push("/bin/sh", script);
  return argv;
}

export function dockerRemoveArgv(container: string): string[] {
  return ["rm", "--force", container];
}

export type EngineStatus =
  | { readonly available: true; readonly version: string }
  | { readonly available: false; readonly reason: string };

/**
 * Whether a Docker engine answers (the client alone is not enough). Never throws: a missing
 * client or an engine that does not answer is reported as unavailable, with the reason.
 */
export async function detectDockerEngine(run: ProcessRunner = spawnProcess, docker = "docker"): Promise<EngineStatus> {
  let result;
  try {
    result = await captureProcess(run, { command: docker, args: ["version", "--format", "{{.Server.Version}}"] });
  } catch (error) {
    return { available: false, reason: `${docker} not found: ${(error as Error).message}` };
  }
  const version = result.lines.at(-1)?.trim() ?? "";
  if (result.code === 0 && /^[0-9][0-9A-Za-z.+-]*$/.test(version)) return { available: true, version };
  const said = result.lines.filter((l) => l.trim() !== "").slice(-2).join(" / ");
  return { available: false, reason: `no Docker engine answers (${docker} version exited ${result.code}${said ? `: ${said}` : ""})` };
}
