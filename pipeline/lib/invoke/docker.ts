/**
 * `npm run invoke -- --docker`: the same function in AWS's Lambda base image for custom
 * runtimes, whose Runtime Interface Emulator (RIE) plays the Runtime API and exposes Lambda's
 * Invoke call on a port. This module only builds the `docker run` argument vector (pure); the
 * command starts it and posts the event to the RIE.
 */
export const LAMBDA_BASE_IMAGE = "public.ecr.aws/lambda/provided:al2023";
/** The RIE's invoke path inside the image. */
export const RIE_INVOKE_PATH = "/2015-03-31/functions/function/invocations";

export interface DockerRun {
  readonly taskRoot: string;
  /** The unzipped layers (R, the bootstrap, packages), mounted as /opt. */
  readonly opt: string;
  readonly handler: string;
  readonly functionName: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  readonly env: Readonly<Record<string, string>>;
  /** Host port for the RIE (127.0.0.1 only). */
  readonly port: number;
  readonly arch: "x86_64" | "arm64";
  readonly image?: string;
}

export function dockerArgv(run: DockerRun): string[] {
  const env: Record<string, string> = {
    _HANDLER: run.handler,
    AWS_LAMBDA_FUNCTION_NAME: run.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(run.memoryMb),
    AWS_LAMBDA_FUNCTION_TIMEOUT: String(run.timeoutSeconds),
    ...run.env,
  };
  return [
    "run",
    "--rm",
    "--platform",
    run.arch === "arm64" ? "linux/arm64" : "linux/amd64",
    "--memory",
    `${run.memoryMb}m`,
    "--read-only",
    "--tmpfs",
    "/tmp",
    "-p",
    `127.0.0.1:${run.port}:8080`,
    "-v",
    `${run.taskRoot}:/var/task:ro`,
    "-v",
    `${run.opt}:/opt:ro`,
    ...Object.entries(env).flatMap(([name, value]) => ["-e", `${name}=${value}`]),
    "--entrypoint",
    "/usr/local/bin/aws-lambda-rie",
    run.image ?? LAMBDA_BASE_IMAGE,
    "/opt/bootstrap",
  ];
}
