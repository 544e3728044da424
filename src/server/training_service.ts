/**
 * Training on demand, inside the server process, in the background.
 *
 * One run at a time across every instance sharing the KV: a run starts only
 * after taking the training lease (`acquireLease`), renews it whenever it
 * reports progress, and releases it when it ends; an instance that dies loses
 * the lease after its TTL. Progress goes into the job record in KV (at most
 * every `progressIntervalMs`, and after every evaluated epoch), so any
 * instance can answer `GET /api/train/:jobId` and stream its events.
 *
 * Each run trains in a worker (train_worker.ts): loading the 40 MB MNIST
 * package, every batch and every evaluation happen off the event loop, so
 * requests are answered while it trains and serving never loads the data.
 *
 * When a run ends, the model is stored (`saveModel`) and activated if the
 * policy says so: "if-better" compares it with the active model on the run's
 * own held-out split, "always" activates it, "never" only stores it.
 *
 * @module
 */

import type { Model } from "../nn/model_file.ts";
import { ConflictError, NotFoundError } from "../store/errors.ts";
import {
  type ActivationPolicy,
  createJob,
  FINISHED_STATUSES,
  finishJob,
  getJob,
  type JobProgress,
  type JobRecord,
  type JobResult,
  newJobId,
  updateJob,
} from "../store/jobs.ts";
import {
  acquireLease,
  currentLease,
  releaseLease,
  renewLease,
} from "../store/lease.ts";
import {
  activateModel,
  getActivePointer,
  loadModel,
  newModelId,
  saveModel,
} from "../store/models.ts";
import type { TrainConfig } from "../training/config.ts";
import type { BatchProgress } from "../training/run.ts";
import { HttpError } from "./errors.ts";
import type { Log } from "./log.ts";
import type { ModelService } from "./model_service.ts";
import { startTrainingRun, type TrainingRun } from "./train_runner.ts";

/** Options of {@link TrainingService}. */
export interface TrainingServiceOptions {
  kv: Deno.Kv | null;
  models: ModelService;
  log: Log;
  /** Wall clock, epoch milliseconds (lease expiry, record times). */
  now?: () => number;
  /** Names this process in lease holders. */
  instanceId?: string;
  /** How long the lease lasts without renewal, ms. */
  leaseTtlMs?: number;
  /** Least time between progress writes to KV, ms. */
  progressIntervalMs?: number;
}

/** What a caller asks of a run besides the config. */
export interface StartOptions {
  activate?: ActivationPolicy;
  origin?: JobRecord["origin"];
}

/** The state of training as a prediction request sees it (for 503 answers). */
export interface TrainingStatus {
  jobId: string;
  progress: JobProgress | null;
}

interface RunningJob {
  id: string;
  holder: string;
  controller: AbortController;
  progress: JobProgress | null;
  done: Promise<void>;
}

/** Starts, runs, reports and cancels training jobs for one instance. */
export class TrainingService {
  readonly #kv: Deno.Kv | null;
  readonly #models: ModelService;
  readonly #log: Log;
  readonly #now: () => number;
  readonly #instanceId: string;
  readonly #leaseTtlMs: number;
  readonly #progressIntervalMs: number;
  #running: RunningJob | null = null;
  #retryTimer: ReturnType<typeof setInterval> | null = null;

  constructor(options: TrainingServiceOptions) {
    this.#kv = options.kv;
    this.#models = options.models;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#instanceId = options.instanceId ?? crypto.randomUUID().slice(0, 8);
    this.#leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.#progressIntervalMs = options.progressIntervalMs ?? 500;
  }

  /** The id of the job this instance is running, or null. */
  get runningJobId(): string | null {
    return this.#running?.id ?? null;
  }

  /**
   * Starts a run in the background and returns its job record. Throws
   * ConflictError when another run holds the lease, RangeError when the
   * config names an architecture that cannot be built.
   */
  async start(
    config: TrainConfig,
    { activate = "if-better", origin = "api" }: StartOptions = {},
  ): Promise<JobRecord> {
    const kv = this.#requireKv();
    // Fail now, with a 400, rather than in the background.
    const { architectureOf } = await import("../training/run.ts");
    architectureOf(config);
    const id = newJobId(this.#now());
    const holder = `${this.#instanceId}/${id}`;
    const lease = await acquireLease(kv, {
      holder,
      jobId: id,
      ttlMs: this.#leaseTtlMs,
      now: this.#now(),
    });
    if (!lease) {
      const other = await currentLease(kv, this.#now());
      throw new ConflictError(
        `Cannot start training as job ${
          other?.jobId ?? "(unknown)"
        } is running: wait for it to finish or cancel it`,
      );
    }
    const at = new Date(this.#now()).toISOString();
    const job: JobRecord = {
      id,
      status: "running",
      origin,
      config: { ...config },
      activate,
      holder,
      createdAt: at,
      updatedAt: at,
      finishedAt: null,
      progress: null,
      result: null,
      error: null,
      cancelRequested: false,
    };
    try {
      await createJob(kv, job);
    } catch (e) {
      await releaseLease(kv, holder);
      throw e;
    }
    const controller = new AbortController();
    const running: RunningJob = {
      id,
      holder,
      controller,
      progress: null,
      done: Promise.resolve(),
    };
    this.#running = running;
    running.done = this.#run(kv, running, config, activate);
    this.#log.info(
      `training job ${id} started (${origin}, activate ${activate}): ${
        JSON.stringify(config)
      }`,
    );
    return job;
  }

  /**
   * Trains `config` now if no model is active and nobody is training, and
   * keeps checking every lease TTL (in case the instance that was training
   * died). Used at start-up so a fresh deployment gets a model by itself.
   */
  async trainWhileNoModel(config: TrainConfig): Promise<void> {
    const attempt = async () => {
      const kv = this.#kv;
      if (!kv || this.#models.current || this.#running) return;
      if (await getActivePointer(kv)) return;
      if (await currentLease(kv, this.#now())) return;
      try {
        await this.start(config, { activate: "if-better", origin: "startup" });
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    };
    await attempt();
    if (this.#retryTimer === null && this.#kv) {
      const timer = setInterval(() => {
        if (this.#models.current) return this.#stopRetrying();
        attempt().catch((e) =>
          this.#log.error(`Cannot start training: ${(e as Error).message}`)
        );
      }, this.#leaseTtlMs);
      Deno.unrefTimer(timer);
      this.#retryTimer = timer;
    }
  }

  /**
   * The run in progress anywhere (this instance first, else the lease holder
   * in KV), or null when nobody is training.
   */
  async status(): Promise<TrainingStatus | null> {
    if (this.#running) {
      return { jobId: this.#running.id, progress: this.#running.progress };
    }
    const kv = this.#kv;
    if (!kv) return null;
    const lease = await currentLease(kv, this.#now());
    if (!lease) return null;
    const job = await getJob(kv, lease.jobId).catch(() => null);
    return { jobId: lease.jobId, progress: job?.progress ?? null };
  }

  /**
   * A job record. A record still "running" whose lease has expired (its
   * instance died) is marked failed first.
   */
  async job(id: string): Promise<JobRecord> {
    const kv = this.#requireKv();
    const job = await getJob(kv, id);
    if (!job) throw new NotFoundError(`Cannot find training job ${id}`);
    if (job.status !== "running" || this.#running?.id === id) return job;
    const lease = await currentLease(kv, this.#now());
    if (lease?.holder === job.holder) return job;
    return await updateJob(kv, id, (j) =>
      j.status === "running"
        ? {
          ...j,
          status: "failed",
          error: "The instance running this job stopped (its lease expired)",
          finishedAt: new Date(this.#now()).toISOString(),
        }
        : j, { now: this.#now() });
  }

  /**
   * Cancels a running job: directly when this instance runs it, else by
   * flagging the record (its runner stops at its next progress report).
   */
  async cancel(id: string): Promise<JobRecord> {
    const kv = this.#requireKv();
    const job = await this.job(id);
    if (FINISHED_STATUSES.includes(job.status)) {
      throw new ConflictError(
        `Cannot cancel training job ${id} as it has already ${job.status}`,
      );
    }
    if (this.#running?.id === id) {
      const running = this.#running;
      running.controller.abort(new Error("Cancelled by an admin request"));
      await running.done;
      return (await getJob(kv, id)) ?? job;
    }
    return await updateJob(
      kv,
      id,
      (j) => ({ ...j, cancelRequested: true }),
      { now: this.#now() },
    );
  }

  /** Stops retrying, cancels this instance's run and waits for it to end. */
  async close(): Promise<void> {
    this.#stopRetrying();
    const running = this.#running;
    if (running) {
      running.controller.abort(new Error("The server is shutting down"));
      await running.done;
    }
  }

  #stopRetrying(): void {
    if (this.#retryTimer !== null) clearInterval(this.#retryTimer);
    this.#retryTimer = null;
  }

  #requireKv(): Deno.Kv {
    if (!this.#kv) {
      throw new HttpError(
        503,
        "Training is unavailable as the server runs without Deno KV",
      );
    }
    return this.#kv;
  }

  async #run(
    kv: Deno.Kv,
    running: RunningJob,
    config: TrainConfig,
    activate: ActivationPolicy,
  ): Promise<void> {
    const { id, holder, controller } = running;
    const signal = controller.signal;
    const curve: JobProgress["curve"] = [];
    let lastWrite = -Infinity;
    let lastRenew = performance.now();

    // Writes the latest progress to KV, renews the lease, notices remote cancels.
    const report = async () => {
      const progress = running.progress;
      if (!progress || signal.aborted) return;
      const job = await updateJob(kv, id, (j) => ({ ...j, progress }), {
        now: this.#now(),
      });
      if (job.cancelRequested) {
        controller.abort(new Error("Cancelled by an admin request"));
      }
      if (performance.now() - lastRenew >= this.#leaseTtlMs / 3) {
        lastRenew = performance.now();
        const held = await renewLease(kv, {
          holder,
          ttlMs: this.#leaseTtlMs,
          now: this.#now(),
        });
        if (!held) controller.abort(new Error("Lost the training lease"));
      }
    };
    // Reports run one after another, never two at once.
    let reporting = Promise.resolve();
    const queueReport = () => {
      reporting = reporting.then(report).catch((e) =>
        this.#log.warn(`Cannot record the progress of job ${id}: ${e}`)
      );
    };

    let run: TrainingRun | null = null;
    try {
      run = startTrainingRun(config, {
        id: newModelId(this.#now()),
        createdAt: new Date(this.#now()).toISOString(),
        signal,
        progressEveryMs: Math.min(250, this.#progressIntervalMs),
        onBatch: (p: BatchProgress) => {
          running.progress = progressOf(p, curve);
          if (performance.now() - lastWrite >= this.#progressIntervalMs) {
            lastWrite = performance.now();
            queueReport();
          }
        },
        onEpoch: (record) => {
          curve.push({
            epoch: record.epoch,
            loss: record.loss,
            testAccuracy: record.testAccuracy,
          });
          if (running.progress) {
            running.progress = { ...running.progress, curve: [...curve] };
          }
          queueReport();
        },
      });
      const model = await run.model;
      await reporting;
      signal.throwIfAborted();
      await saveModel(kv, model);
      const result = await this.#decide(kv, model, run, activate);
      await finishJob(kv, id, (j) => ({
        ...j,
        status: "succeeded",
        result,
        finishedAt: new Date(this.#now()).toISOString(),
      }), { holder, now: this.#now() });
      this.#log.info(
        `training job ${id} stored model ${model.id} (test accuracy ${
          (result.testAccuracy * 100).toFixed(2)
        }%): ${result.reason}`,
      );
    } catch (e) {
      const cancelled = signal.aborted;
      const message = cancelled
        ? String((signal.reason as Error)?.message ?? signal.reason)
        : (e as Error).message;
      if (!cancelled) {
        this.#log.error(
          `training job ${id} failed: ${(e as Error).stack ?? e}`,
        );
      } else {
        this.#log.info(`training job ${id} stopped: ${message}`);
      }
      await reporting;
      await finishJob(kv, id, (j) => ({
        ...j,
        status: cancelled ? "cancelled" : "failed",
        error: message,
        finishedAt: new Date(this.#now()).toISOString(),
      }), { holder, now: this.#now() }).catch((err) =>
        this.#log.error(`Cannot record the end of job ${id}: ${err}`)
      );
    } finally {
      run?.close();
      // Normally finishJob has released it; this covers a failure to record the end.
      await releaseLease(kv, holder).catch(() => {});
      if (this.#running === running) this.#running = null;
    }
  }

  /** Stores the activation decision: compares with the active model when asked. */
  async #decide(
    kv: Deno.Kv,
    model: Model,
    run: TrainingRun,
    policy: ActivationPolicy,
  ): Promise<JobResult> {
    const testAccuracy = model.metrics.testAccuracy;
    const pointer = await getActivePointer(kv);
    let previousAccuracy: number | null = null;
    if (pointer) {
      const bytes = await this.#bytesOf(kv, pointer.id);
      if (bytes) previousAccuracy = await run.evaluate(bytes);
    }
    let activated: boolean;
    let reason: string;
    if (policy === "never") {
      activated = false;
      reason = 'stored only ("activate": "never")';
    } else if (policy === "always") {
      activated = true;
      reason = 'activated ("activate": "always")';
    } else if (!pointer) {
      activated = true;
      reason = "activated: there was no active model";
    } else if (previousAccuracy === null) {
      activated = false;
      reason =
        `not activated: the active model ${pointer.id} could not be measured on the same test split`;
    } else {
      activated = testAccuracy >= previousAccuracy;
      reason = `${activated ? "activated" : "not activated"}: ${
        pct(testAccuracy)
      } ${activated ? "≥" : "<"} ${
        pct(previousAccuracy)
      } of the active model ${pointer.id} on the same ${model.metrics.testCount} test digits`;
    }
    if (activated) {
      const next = await activateModel(kv, model.id);
      await this.#models.show(next).catch(() => {});
    }
    return {
      modelId: model.id,
      testAccuracy,
      activated,
      reason,
      previousModelId: pointer?.id ?? null,
      previousAccuracy,
    };
  }

  async #bytesOf(kv: Deno.Kv, id: string): Promise<Uint8Array | null> {
    const current = this.#models.current;
    if (current?.info.id === id) return current.bytes;
    try {
      return (await loadModel(kv, id)).bytes;
    } catch (e) {
      this.#log.warn(`Cannot load model ${id} to compare: ${e}`);
      return null;
    }
  }
}

function progressOf(
  p: BatchProgress,
  curve: JobProgress["curve"],
): JobProgress {
  const done = p.epoch * p.batches + p.batch + 1;
  return {
    epoch: p.epoch + 1,
    epochs: p.epochs,
    batch: p.batch + 1,
    batches: p.batches,
    fraction: done / (p.epochs * p.batches),
    epochLoss: p.epochLoss,
    elapsedMs: Math.round(p.elapsedMs),
    etaMs: Math.round(p.etaMs),
    curve: [...curve],
  };
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
