// The index of this process within an array job: Kubernetes Indexed Jobs set JOB_COMPLETION_INDEX,
// Slurm arrays SLURM_ARRAY_TASK_ID (counted from SLURM_ARRAY_TASK_MIN). Shared by prepare --shards and
// train --fold auto.

/** The 0-based task index from the environment, or null outside an array job. */
export function arrayTaskIndex(env: NodeJS.ProcessEnv): number | null {
  if (env.JOB_COMPLETION_INDEX !== undefined) return Number(env.JOB_COMPLETION_INDEX);
  if (env.SLURM_ARRAY_TASK_ID !== undefined) return Number(env.SLURM_ARRAY_TASK_ID) - Number(env.SLURM_ARRAY_TASK_MIN ?? 0);
  return null;
}
