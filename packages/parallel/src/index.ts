export { type AllReduceGradientsOptions, allReduceGradients } from './all-reduce-gradients.js';
export {
  AllToAllDispatcher,
  type ExpertParallelGroups,
  type ExpertParallelPlan,
} from './all-to-all-dispatcher.js';
export { applyExpertParallel, type ModuleTree } from './apply-expert-parallel.js';
export { CollectiveTape } from './collective-tape.js';
export type { AllToAllResult, Communicator, ReduceOp, SyncCollectives } from './communicator.js';
export {
  ExpertParallelLayer,
  type ExpertParallelOptions,
  type ExpertParallelOutput,
} from './expert-parallel-layer.js';
export {
  type LaunchWorkersOptions,
  launchWorkers,
  startWorkers,
  type WorkerCluster,
} from './launch-workers.js';
export { type HostMessage, MessageCommunicator } from './message-communicator.js';
export {
  contiguousPlacement,
  ExpertPlacement,
  type LoadAwareOptions,
  loadAwarePlacement,
  type PlacementGroupLimit,
  roundRobinPlacement,
} from './placement.js';
export {
  type ClusterPlan,
  type ClusterSpec,
  type ParallelStrategy,
  type PlanModel,
  type PlanModelConfig,
  type PlanParameterCount,
  planCluster,
} from './plan-cluster.js';
export { type StackedExperts, shardExperts } from './shard-experts.js';
export { sumReplicaGradients } from './sum-replica-gradients.js';
export {
  createVirtualCluster,
  runVirtualRanks,
  type VirtualClusterOptions,
  VirtualCommunicator,
} from './virtual-cluster.js';
export { withBackend } from './with-backend.js';
export { WorkerCommunicator } from './worker-communicator.js';
