/**
 * LayerParameters over Systems Manager Parameter Store. The only module that imports
 * @aws-sdk/client-ssm.
 *
 * One GetParametersByPath sequence per region (10 a page, AWS's largest) reads every parameter
 * under the prefix with its value; tags come from ListTagsForResource, asked only for the
 * parameters a plan would change. A parameter is created with its owner tag in the same call
 * (PutParameter with Tags, which needs ssm:AddTagsToResource too); Parameter Store refuses Tags
 * together with Overwrite, so an existing parameter is overwritten without them (it keeps its
 * tags). Throttling (ThrottlingException, PutParameter's low default rate) is retried by the
 * SDK's adaptive strategy.
 */
import {
  DeleteParameterCommand,
  ListTagsForResourceCommand,
  PutParameterCommand,
  SSMClient,
  paginateGetParametersByPath,
} from "@aws-sdk/client-ssm";
import { PipelineError } from "../../errors.ts";
import { PARAMETER_OWNER_TAG } from "../../naming.ts";
import type { LayerParameters, ParameterWrite, StoredParameter } from "../../ports.ts";
import { PerRegion, clientConfig } from "./clients.ts";
import type { AwsClientOptions } from "./clients.ts";
import { awsErrorCode, call, toPipelineError } from "./errors.ts";
import type { AwsCallContext } from "./errors.ts";

/** GetParametersByPath's largest page. */
const PAGE_SIZE = 10;

export class SsmLayerParameters implements LayerParameters {
  private readonly clients: PerRegion<SSMClient>;

  constructor(options: AwsClientOptions = {}) {
    this.clients = new PerRegion((region) => new SSMClient(clientConfig("ssm", region, options)));
  }

  private ctx(operation: string, region: string, resource: string, write = false): AwsCallContext {
    return { service: "SSM", operation, region, resource: `parameter ${resource}`, code: write ? "AWS_SERVICE_ERROR" : "STATE_UNREADABLE" };
  }

  async list(region: string, path: string): Promise<StoredParameter[]> {
    return call(this.ctx("GetParametersByPath", region, `${path}/*`), async () => {
      const out: StoredParameter[] = [];
      const pages = paginateGetParametersByPath({ client: this.clients.get(region), pageSize: PAGE_SIZE }, { Path: path, Recursive: true, WithDecryption: false });
      for await (const page of pages) {
        for (const p of page.Parameters ?? []) {
          if (p.Name !== undefined && p.Value !== undefined) out.push({ name: p.Name, value: p.Value });
        }
      }
      return out.sort((a, b) => a.name.localeCompare(b.name));
    });
  }

  async readOwner(region: string, name: string): Promise<string | undefined> {
    const out = await call(this.ctx("ListTagsForResource", region, name), () =>
      this.clients.get(region).send(new ListTagsForResourceCommand({ ResourceType: "Parameter", ResourceId: name })),
    );
    return out.TagList?.find((t) => t.Key === PARAMETER_OWNER_TAG)?.Value;
  }

  async put(write: ParameterWrite): Promise<void> {
    const { region, name, value, owner } = write;
    const client = this.clients.get(region);
    const overwrite = () =>
      call(this.ctx("PutParameter", region, name, true), () =>
        client.send(new PutParameterCommand({ Name: name, Value: value, Type: "String", Overwrite: true })),
      );
    if (write.change === "update") {
      await overwrite();
      return;
    }
    try {
      await client.send(
        new PutParameterCommand({ Name: name, Value: value, Type: "String", Overwrite: false, Tags: [{ Key: PARAMETER_OWNER_TAG, Value: owner }] }),
      );
    } catch (error) {
      if (awsErrorCode(error) !== "ParameterAlreadyExists") {
        throw toPipelineError(error, { ...this.ctx("PutParameter", region, name, true), accessHint: "and ssm:AddTagsToResource (a new parameter is created with its owner tag)" });
      }
      // Created since the plan: by an earlier attempt of ours (a lost response), or by someone else.
      const found = await this.readOwner(region, name);
      if (found !== owner) {
        throw new PipelineError(
          "STATE_CONFLICT",
          `parameter ${name} in ${region} appeared after the plan and is not this pipeline's (${found === undefined ? `no ${PARAMETER_OWNER_TAG} tag` : `${PARAMETER_OWNER_TAG}=${found}`}): it was left as it is; delete it or tag it ${PARAMETER_OWNER_TAG}=${owner}, then run again`,
        );
      }
      await overwrite();
    }
  }

  async delete(region: string, name: string): Promise<void> {
    try {
      await this.clients.get(region).send(new DeleteParameterCommand({ Name: name }));
    } catch (error) {
      if (awsErrorCode(error) === "ParameterNotFound") return; // already gone: the outcome we wanted
      throw toPipelineError(error, this.ctx("DeleteParameter", region, name, true));
    }
  }

  /** Closes the HTTP connections of every client created so far. */
  destroy(): void {
    for (const client of this.clients.all()) client.destroy();
  }
}
