/**
 * Training on demand, inside the server process, in the background — built
 * for instances that can be evicted at any moment (SIGINT, then SIGKILL
 * 5 s later) and share nothing but Deno KV.
 *
 * One run at a time across every instance sharing the KV: a run starts only
 * after taking the training lease (`acquireLease`), renews it whenever it
 * reports progress, and releases it when it ends; an instance that dies loses
 * the lease after its TTL. Progress goes into the job record in KV (at most
 * every `progressIntervalMs`, and after every evaluated epoch), so any
 * instance can answer `GET /api/train/:jobId` and stream its events.
 *
 * Surviving eviction: every `checkpointEveryMs` the run's full state
 * (weights, optimizer moments, PRNG state, example order, position, curve)
 * is saved in KV under the job id (`saveCheckpoint`). A job whose record
 * still says "running" but whose lease is gone was interrupted:
 * {@link TrainingService.resumeInterrupted} — called at start-up, every lease
 * TTL, and by main.ts's `Deno.cron` tick — takes the lease, loads the last
 * checkpoint and continues. Training is deterministic (seeded), so the
 * resumed run ends with exactly the weights of a run that never stopped (and
 * a job killed before its first checkpoint starts over and ends the same).
 * On SIGINT the instance stops its run without failing the job and releases
 * the lease, so another instance can pick it up at once. A job interrupted
 * more than `maxResumes` times is marked failed.
 *
 * Each run trains in a worker where the runtime has Web Workers, else on the
 * main thread in short slices (train_runner.ts). Loading the 40 MB MNIST
 * package, every batch and every evaluation happen off the request path.
 *
 * When a run ends, the model is stored (`saveModel`) and activated if the
 * policy says so: "if-better" compares it with the active model on the run's
 * own held-out split, "always" activates it, "never" only stores it.
 *
 * @module
 */

import type { EpochRecord, Model } from "../nn/model_file.ts";
import {
  deleteCheckpoint,
  loadCheckpoint,
  saveCheckpoint,
} from "../store/checkpoints.ts";
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
  type JobStatus,
  listJobs,
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
import { type TrainConfig, validateTrainConfig } from "../training/config.ts";
import type { BatchProgress, RunCheckpoint } from "../training/run.ts";
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
  /** Least time between two checkpoints of a run, ms (0 = none). */
  checkpointEveryMs?: number;
  /** How many times a job may be resumed before it is marked failed. */
  maxResumes?: number;
  /** Where runs train: a worker where possible ("auto"), or always the main thread ("inline"). */
  runMode?: "auto" | "worker" | "inline";
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

/**
 * A job record with the fields this service adds (stored with it in KV, so
 * every instance sees them).
 */
export interface ServerJobRecord extends JobRecord {
  /** The id the finished model will get (the same after a resume). */
  modelId?: string;
  /** How many times the job was picked up again after an interruption. */
  resumes?: number;
}

/** What a server checkpoint records besides the trainer state. */
export type ServerCheckpointMeta = RunCheckpoint["meta"] & {
  modelId: string;
  createdAt: string;
};

/**
 * Why a run stopped without the job ending: the instance is shutting down,
 * or another instance took the lease. The job stays "running", to be resumed.
 */
export class RunInterrupted extends Error {
  /** Whether this instance still holds the lease and should give it up. */
  readonly releaseLease: boolean;
  constructor(message: string, { releaseLease = true } = {}) {
    super(message);
    this.name = "RunInterrupted";
    this.releaseLease = releaseLease;
  }
}

interface RunningJob {
  id: string;
  holder: string;
  controller: AbortController;
  progress: JobProgress | null;
  done: Promise<void>;
}

/** What {@link TrainingService} needs to run a job (new or resumed). */
interface RunPlan {
  id: string;
  holder: string;
  config: TrainConfig;
  activate: ActivationPolicy;
  modelId: string;
  createdAt: string;
  resume?: RunCheckpoint;
}

/** Longest wait for a checkpoint save in flight when the instance stops, ms. */
const SHUTDOWN_SAVE_WAIT_MS = 2_000;

/** Starts, runs, reports, checkpoints, resumes and cancels training jobs for one instance. */
export class TrainingService {
  readonly #kv: Deno.Kv | null;
  readonly #models: ModelService;
  readonly #log: Log;
  readonly #now: () => number;
  readonly #instanceId: string;
  readonly #leaseTtlMs: number;
  readonly #progressIntervalMs: number;
  readonly #checkpointEveryMs: number;
  readonly #maxResumes: number;
  readonly #runMode: "auto" | "worker" | "inline";
  #running: RunningJob | null = null;
  #retryTimer: ReturnType<typeof setInterval> | null = null;
  #resumeTimer: ReturnType<typeof setInterval> | null = null;
  #resuming: Promise<string | null> | null = null;
  #closed = false;

  constructor(options: TrainingServiceOptions) {
    this.#kv = options.kv;
    this.#models = options.models;
    this.#log = options.log;
    this.#now = options.now ?? Date.now;
    this.#instanceId = options.instanceId ?? crypto.randomUUID().slice(0, 8);
    this.#leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.#progressIntervalMs = options.progressIntervalMs ?? 500;
    this.#checkpointEveryMs = options.checkpointEveryMs ?? 10_000;
    this.#maxResumes = options.maxResumes ?? 5;
    this.#runMode = options.runMode ?? "auto";
  }

  /** The id of the job this instance is running, or null. */
  get runningJobId(): string | null {
    return this.#running?.id ?? null;
  }

  /** Resolves when this instance's current run (if any) has ended. */
  async idle(): Promise<void> {
    while (this.#running) await this.#running.done;
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
    const job: ServerJobRecord = {
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
      modelId: newModelId(this.#now()),
      resumes: 0,
    };
    try {
      await createJob(kv, job);
    } catch (e) {
      await releaseLease(kv, holder);
      throw e;
    }
    this.#begin(kv, {
      id,
      holder,
      config,
      activate,
      modelId: job.modelId!,
      createdAt: at,
    }, null);
    this.#log.info(
      `training job ${id} started (${origin}, activate ${activate}): ${
        JSON.stringify(config)
      }`,
    );
    return job;
  }

  /**
   * Picks up one interrupted job — its record says "running" but nobody
   * holds the lease — from its last checkpoint (or from the start when it
   * has none). Returns the job id, or null when there is nothing to resume,
   * another run holds the lease, or this instance is busy. Jobs that were
   * asked to cancel, cannot be configured any more, or were interrupted more
   * than `maxResumes` times are ended instead.
   */
  resumeInterrupted(): Promise<string | null> {
    this.#resuming ??= this.#resumeOne().finally(() => {
      this.#resuming = null;
    });
    return this.#resuming;
  }

  /**
   * Calls {@link resumeInterrupted} now and then every lease TTL, until
   * {@link close}. (main.ts also calls it from a `Deno.cron` tick, which on
   * Deno Deploy starts an instance when none is running.)
   */
  async watchInterrupted(): Promise<void> {
    if (!this.#kv || this.#resumeTimer !== null || this.#closed) return;
    const tick = () =>
      this.resumeInterrupted().catch((e) =>
        this.#log.error(
          `Cannot resume interrupted training: ${(e as Error).message}`,
        )
      );
    const timer = setInterval(tick, this.#leaseTtlMs);
    Deno.unrefTimer(timer);
    this.#resumeTimer = timer;
    await tick();
  }

  async #resumeOne(): Promise<string | null> {
    const kv = this.#kv;
    if (!kv || this.#running || this.#closed) return null;
    if (await currentLease(kv, this.#now())) return null;
    const running = (await listJobs(kv, { limit: 100 }))
      .filter((j) => j.status === "running")
      .reverse(); // oldest first
    for (const candidate of running) {
      const id = candidate.id;
      const holder = `${this.#instanceId}/${id}`;
      const lease = await acquireLease(kv, {
        holder,
        jobId: id,
        ttlMs: this.#leaseTtlMs,
        now: this.#now(),
      });
      if (!lease) return null; // another instance got there first
      const job = await getJob(kv, id) as ServerJobRecord | null;
      if (!job || job.status !== "running" || this.#closed) {
        await releaseLease(kv, holder);
        if (this.#closed) return null;
        continue;
      }
      const resumes = (job.resumes ?? 0) + 1;
      const end = async (status: JobStatus, error: string) => {
        await finishJob(kv, id, (j) => ({
          ...j,
          status,
          error,
          finishedAt: new Date(this.#now()).toISOString(),
        }), { holder, now: this.#now() });
        await deleteCheckpoint(kv, id);
        this.#log.warn(`training job ${id} ${status}: ${error}`);
      };
      if (job.cancelRequested) {
        await end("cancelled", "Cancelled by an admin request");
        continue;
      }
      if (resumes > this.#maxResumes) {
        await end(
          "failed",
          `Gave up after ${this.#maxResumes} interruptions (instances stopped while training)`,
        );
        continue;
      }
      let config: TrainConfig;
      try {
        config = validateTrainConfig(job.config);
      } catch (e) {
        await end("failed", `Cannot resume: ${(e as Error).message}`);
        continue;
      }
      let checkpoint = null;
      try {
        checkpoint = await loadCheckpoint<ServerCheckpointMeta>(kv, id);
      } catch (e) {
        this.#log.warn(
          `Cannot read the checkpoint of job ${id}, starting it over: ${
            (e as Error).message
          }`,
        );
      }
      const modelId = checkpoint?.meta.modelId ?? job.modelId ??
        newModelId(this.#now());
      await updateJob(kv, id, (j) => {
        const next: ServerJobRecord = { ...j, holder, resumes, modelId };
        return next;
      }, { now: this.#now() });
      const resume = checkpoint
        ? {
          meta: {
            epochs: checkpoint.meta.epochs,
            trainMs: checkpoint.meta.trainMs,
            epochMs: checkpoint.meta.epochMs,
          },
          state: checkpoint.state,
        }
        : undefined;
      this.#begin(kv, {
        id,
        holder,
        config,
        activate: job.activate,
        modelId,
        createdAt: checkpoint?.meta.createdAt ?? job.createdAt,
        resume,
      }, job.progress);
      this.#log.info(
        `training job ${id} resumed (${resumes} of at most ${this.#maxResumes}) ${
          checkpoint
            ? `from its checkpoint at step ${checkpoint.state.steps} (epoch ${
              checkpoint.state.epoch + 1
            }, batch ${checkpoint.state.batch + 1})`
            : "from the start: it had no checkpoint yet"
        }`,
      );
      return id;
    }
    return null;
  }

  /**
   * Trains `config` now if no model is active and nobody is training, and
   * keeps checking every lease TTL (in case the instance that was training
   * died). Used at start-up so a fresh deployment gets a model by itself.
   */
  async trainWhileNoModel(config: TrainConfig): Promise<void> {
    const attempt = async () => {
      const kv = this.#kv;
      if (!kv || this.#models.current || this.#running || this.#closed) {
        return;
      }
      if (await getActivePointer(kv)) return;
      if (await currentLease(kv, this.#now())) return;
      // An interrupted start-up run is resumed, not started again.
      if (
        (await listJobs(kv, { limit: 100 })).some((j) => j.status === "running")
      ) {
        return;
      }
      try {
        await this.start(config, { activate: "if-better", origin: "startup" });
      } catch (e) {
        if (!(e instanceof ConflictError)) throw e;
      }
    };
    await attempt();
    if (this.#retryTimer === null && this.#kv && !this.#closed) {
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
   * A job record. One still "running" whose lease is gone was interrupted:
   * it keeps that status until an instance resumes it (or gives up on it).
   */
  async job(id: string): Promise<JobRecord> {
    const kv = this.#requireKv();
    const job = await getJob(kv, id);
    if (!job) throw new NotFoundError(`Cannot find training job ${id}`);
    return job;
  }

  /**
   * Cancels a job: directly when this instance runs it or nobody does (an
   * interrupted job), else by flagging the record (its runner stops at its
   * next progress report).
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
    const lease = await currentLease(kv, this.#now());
    if (lease?.holder !== job.holder) {
      const ended = await finishJob(kv, id, (j) => ({
        ...j,
        status: "cancelled",
        error: "Cancelled by an admin request (while interrupted)",
        finishedAt: new Date(this.#now()).toISOString(),
      }), { holder: job.holder, now: this.#now() });
      await deleteCheckpoint(kv, id);
      return ended;
    }
    return await updateJob(
      kv,
      id,
      (j) => ({ ...j, cancelRequested: true }),
      { now: this.#now() },
    );
  }

  /**
   * Stops retrying and resuming, and interrupts this instance's run without
   * ending its job: the lease is released so another instance resumes it
   * from its last checkpoint.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#stopRetrying();
    if (this.#resumeTimer !== null) clearInterval(this.#resumeTimer);
    this.#resumeTimer = null;
    await this.#resuming?.catch(() => {});
    const running = this.#running;
    if (running) {
      running.controller.abort(
        new RunInterrupted("The server is shutting down"),
      );
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

  /** Registers a run as this instance's and starts it in the background. */
  #begin(kv: Deno.Kv, plan: RunPlan, progress: JobProgress | null): void {
    const running: RunningJob = {
      id: plan.id,
      holder: plan.holder,
      controller: new AbortController(),
      progress,
      done: Promise.resolve(),
    };
    this.#running = running;
    running.done = this.#run(kv, running, plan);
  }

  async #run(kv: Deno.Kv, running: RunningJob, plan: RunPlan): Promise<void> {
    const { id, holder, controller } = running;
    const { config, activate } = plan;
    const signal = controller.signal;
    const curve: JobProgress["curve"] = (plan.resume?.meta.epochs ?? []).map(
      (r: EpochRecord) => ({
        epoch: r.epoch,
        loss: r.loss,
        testAccuracy: r.testAccuracy,
      }),
    );
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
        if (!held) {
          controller.abort(
            new RunInterrupted("Another instance took the training lease", {
              releaseLease: false,
            }),
          );
        }
      }
    };
    // Reports run one after another, never two at once.
    let reporting = Promise.resolve();
    const queueReport = () => {
      reporting = reporting.then(report).catch((e) =>
        this.#log.warn(`Cannot record the progress of job ${id}: ${e}`)
      );
    };

    // Checkpoints are saved one at a time; a newer one replaces one still waiting.
    let waiting: RunCheckpoint | null = null;
    let saving: Promise<void> | null = null;
    const saveCheckpoints = async () => {
      while (waiting) {
        const checkpoint = waiting;
        waiting = null;
        const meta: ServerCheckpointMeta = {
          ...checkpoint.meta,
          modelId: plan.modelId,
          createdAt: plan.createdAt,
        };
        try {
          await saveCheckpoint(kv, id, { meta, state: checkpoint.state });
        } catch (e) {
          this.#log.warn(`Cannot save a checkpoint of job ${id}: ${e}`);
        }
      }
      saving = null;
    };
    const onCheckpoint = (checkpoint: RunCheckpoint) => {
      if (signal.aborted) return;
      waiting = checkpoint;
      saving ??= saveCheckpoints();
    };

    let run: TrainingRun | null = null;
    try {
      run = startTrainingRun(config, {
        id: plan.modelId,
        createdAt: plan.createdAt,
        signal,
        resume: plan.resume,
        mode: this.#runMode,
        checkpointEveryMs: this.#checkpointEveryMs,
        onCheckpoint: this.#checkpointEveryMs > 0 ? onCheckpoint : undefined,
        progressEveryMs: Math.min(250, this.#progressIntervalMs),
        onFallback: (reason) =>
          this.#log.warn(
            `training job ${id} trains on the main thread: ${reason}`,
          ),
        onThreads: (t) => {
          if (t.fallbackReason) {
            this.#log.warn(
              `training job ${id} computes its ${t.workers} shards in one thread: ${t.fallbackReason}`,
            );
          }
        },
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
      await this.#store(kv, model);
      const result = await this.#decide(kv, model, run, activate);
      await finishJob(kv, id, (j) => ({
        ...j,
        status: "succeeded",
        result,
        finishedAt: new Date(this.#now()).toISOString(),
      }), { holder, now: this.#now() });
      await saving;
      await deleteCheckpoint(kv, id).catch((e) =>
        this.#log.warn(`Cannot delete the checkpoint of job ${id}: ${e}`)
      );
      this.#log.info(
        `training job ${id} stored model ${model.id} (test accuracy ${
          (result.testAccuracy * 100).toFixed(2)
        }%): ${result.reason}`,
      );
    } catch (e) {
      const reason = signal.aborted ? signal.reason : e;
      await reporting;
      if (reason instanceof RunInterrupted) {
        // The job stays "running": the next instance resumes it.
        await waitAtMost(saving, SHUTDOWN_SAVE_WAIT_MS);
        if (reason.releaseLease) {
          await releaseLease(kv, holder).catch(() => {});
        }
        this.#log.info(
          `training job ${id} interrupted (${reason.message}): it resumes from its last checkpoint`,
        );
        return;
      }
      const cancelled = signal.aborted;
      const message = cancelled
        ? String((reason as Error)?.message ?? reason)
        : (e as Error).message;
      if (!cancelled) {
        this.#log.error(
          `training job ${id} failed: ${(e as Error).stack ?? e}`,
        );
      } else {
        this.#log.info(`training job ${id} stopped: ${message}`);
      }
      await finishJob(kv, id, (j) => ({
        ...j,
        status: cancelled ? "cancelled" : "failed",
        error: message,
        finishedAt: new Date(this.#now()).toISOString(),
      }), { holder, now: this.#now() }).catch((err) =>
        this.#log.error(`Cannot record the end of job ${id}: ${err}`)
      );
      await saving;
      await deleteCheckpoint(kv, id).catch(() => {});
      // Normally finishJob has released it; this covers a failure to record the end.
      await releaseLease(kv, holder).catch(() => {});
    } finally {
      // Waits for the run's threads to end, so close() leaves nothing behind.
      await run?.close();
      if (this.#running === running) this.#running = null;
    }
  }

  /**
   * Stores the model. A resumed run may find its model already stored (the
   * instance died after saving it, before recording the end): training is
   * deterministic, so that stored file is this very model.
   */
  async #store(kv: Deno.Kv, model: Model): Promise<void> {
    try {
      await saveModel(kv, model);
    } catch (e) {
      if (!(e instanceof ConflictError)) throw e;
      await loadModel(kv, model.id);
      this.#log.info(
        `model ${model.id} was already stored by an earlier run of this job`,
      );
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

/** Waits for `promise` (if any), but no longer than `ms`. */
async function waitAtMost(
  promise: Promise<unknown> | null,
  ms: number,
): Promise<void> {
  if (!promise) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      promise,
      new Promise((resolve) => timer = setTimeout(resolve, ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

function pct(x: number): string {
  return `${(x * 100).toFixed(2)}%`;
}
