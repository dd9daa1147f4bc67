/** class-validator models of Namespace, Node, Event, ConfigMap, Secret, Deployment, ReplicaSet and Lease. */
import { IsOptional } from 'class-validator';
import {
  EachString,
  IsBase64Map,
  IsConfigDataMap,
  IsIntOrString,
  IsQualifiedName,
  IsTimestamp,
  LooseObject,
  Nested,
  NestedList,
  OptionalBool,
  OptionalEnum,
  OptionalInt,
  OptionalString,
  OptionalStringList,
  RequiredEnum,
  RequiredString,
} from '../validation';
import { qualifiedNameErrors } from '../names';
import { LabelSelectorV1, NamespaceMetaV1, ObjectMetaV1, ObjectReferenceV1 } from './meta.model';
import { PodTemplateSpecV1, TAINT_EFFECTS } from './pod.model';

// ---------------------------------------------------------------------------------------------
// Namespace

export class NamespaceSpecV1 {
  @IsOptional() @EachString('a finalizer name', qualifiedNameErrors) finalizers?: string[];
}

export interface NamespaceStatusV1 {
  phase?: 'Active' | 'Terminating';
  conditions?: unknown[];
}

export class NamespaceV1 {
  @RequiredEnum(['v1']) apiVersion!: 'v1';
  @RequiredEnum(['Namespace']) kind!: 'Namespace';
  @Nested(() => NamespaceMetaV1, true) metadata!: NamespaceMetaV1;
  @Nested(() => NamespaceSpecV1) spec?: NamespaceSpecV1;
  @LooseObject() status?: NamespaceStatusV1;
}

// ---------------------------------------------------------------------------------------------
// Node

export class TaintV1 {
  @IsQualifiedName() @RequiredString() key!: string;
  @OptionalString() value?: string;
  @RequiredEnum(TAINT_EFFECTS) effect!: string;
  @IsOptional() @IsTimestamp() timeAdded?: string;
}

export class NodeSpecV1 {
  @OptionalString() podCIDR?: string;
  @OptionalStringList() podCIDRs?: string[];
  @OptionalString() providerID?: string;
  @OptionalBool() unschedulable?: boolean;
  @NestedList(() => TaintV1) taints?: TaintV1[];
}

export interface NodeAddressV1 {
  type: 'Hostname' | 'InternalIP' | 'ExternalIP' | 'InternalDNS' | 'ExternalDNS';
  address: string;
}

export interface NodeConditionV1 {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface NodeSystemInfoV1 {
  machineID?: string;
  systemUUID?: string;
  bootID?: string;
  kernelVersion?: string;
  osImage?: string;
  containerRuntimeVersion?: string;
  kubeletVersion?: string;
  kubeProxyVersion?: string;
  operatingSystem?: string;
  architecture?: string;
}

export interface NodeStatusV1 {
  capacity?: Record<string, string>;
  allocatable?: Record<string, string>;
  phase?: string;
  conditions?: NodeConditionV1[];
  addresses?: NodeAddressV1[];
  nodeInfo?: NodeSystemInfoV1;
  images?: { names: string[]; sizeBytes?: number }[];
  daemonEndpoints?: Record<string, unknown>;
}

export class NodeV1 {
  @RequiredEnum(['v1']) apiVersion!: 'v1';
  @RequiredEnum(['Node']) kind!: 'Node';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @Nested(() => NodeSpecV1) spec?: NodeSpecV1;
  @LooseObject() status?: NodeStatusV1;
}

// ---------------------------------------------------------------------------------------------
// Event

export class EventSourceV1 {
  @OptionalString() component?: string;
  @OptionalString() host?: string;
}

export class EventSeriesV1 {
  @OptionalInt(0) count?: number;
  @OptionalString() lastObservedTime?: string;
}

export class EventV1 {
  @RequiredEnum(['v1']) apiVersion!: 'v1';
  @RequiredEnum(['Event']) kind!: 'Event';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @Nested(() => ObjectReferenceV1, true) involvedObject!: ObjectReferenceV1;
  @OptionalString() reason?: string;
  @OptionalString() message?: string;
  @OptionalEnum(['Normal', 'Warning']) type?: 'Normal' | 'Warning';
  @OptionalInt(0) count?: number;
  @IsOptional() @IsTimestamp() firstTimestamp?: string;
  @IsOptional() @IsTimestamp() lastTimestamp?: string;
  @IsOptional() @IsTimestamp() eventTime?: string;
  @Nested(() => EventSourceV1) source?: EventSourceV1;
  @OptionalString() reportingComponent?: string;
  @OptionalString() reportingInstance?: string;
  @OptionalString() action?: string;
  @Nested(() => ObjectReferenceV1) related?: ObjectReferenceV1;
  @Nested(() => EventSeriesV1) series?: EventSeriesV1;
}

// ---------------------------------------------------------------------------------------------
// ConfigMap, Secret

export class ConfigMapV1 {
  @RequiredEnum(['v1']) apiVersion!: 'v1';
  @RequiredEnum(['ConfigMap']) kind!: 'ConfigMap';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @IsConfigDataMap() data?: Record<string, string>;
  @IsBase64Map() binaryData?: Record<string, string>;
  @OptionalBool() immutable?: boolean;
}

export class SecretV1 {
  @RequiredEnum(['v1']) apiVersion!: 'v1';
  @RequiredEnum(['Secret']) kind!: 'Secret';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @OptionalString() type?: string;
  @IsBase64Map() data?: Record<string, string>;
  @IsConfigDataMap() stringData?: Record<string, string>;
  @OptionalBool() immutable?: boolean;
}

// ---------------------------------------------------------------------------------------------
// Deployment, ReplicaSet

export class RollingUpdateDeploymentV1 {
  @IsOptional() @IsIntOrString({ min: 0, percent: true }) maxSurge?: number | string;
  @IsOptional() @IsIntOrString({ min: 0, percent: true }) maxUnavailable?: number | string;
}

export class DeploymentStrategyV1 {
  @OptionalEnum(['RollingUpdate', 'Recreate']) type?: 'RollingUpdate' | 'Recreate';
  @Nested(() => RollingUpdateDeploymentV1) rollingUpdate?: RollingUpdateDeploymentV1;
}

export class DeploymentSpecV1 {
  @OptionalInt(0) replicas?: number;
  @Nested(() => LabelSelectorV1, true) selector!: LabelSelectorV1;
  @Nested(() => PodTemplateSpecV1, true) template!: PodTemplateSpecV1;
  @Nested(() => DeploymentStrategyV1) strategy?: DeploymentStrategyV1;
  @OptionalInt(0) minReadySeconds?: number;
  @OptionalInt(0) revisionHistoryLimit?: number;
  @OptionalBool() paused?: boolean;
  @OptionalInt(1) progressDeadlineSeconds?: number;
}

export interface DeploymentConditionV1 {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastUpdateTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface DeploymentStatusV1 {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  unavailableReplicas?: number;
  conditions?: DeploymentConditionV1[];
  collisionCount?: number;
}

export class DeploymentV1 {
  @RequiredEnum(['apps/v1']) apiVersion!: 'apps/v1';
  @RequiredEnum(['Deployment']) kind!: 'Deployment';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @Nested(() => DeploymentSpecV1, true) spec!: DeploymentSpecV1;
  @LooseObject() status?: DeploymentStatusV1;
}

export class ReplicaSetSpecV1 {
  @OptionalInt(0) replicas?: number;
  @Nested(() => LabelSelectorV1, true) selector!: LabelSelectorV1;
  @Nested(() => PodTemplateSpecV1, true) template!: PodTemplateSpecV1;
  @OptionalInt(0) minReadySeconds?: number;
}

export interface ReplicaSetStatusV1 {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  observedGeneration?: number;
  conditions?: unknown[];
}

export class ReplicaSetV1 {
  @RequiredEnum(['apps/v1']) apiVersion!: 'apps/v1';
  @RequiredEnum(['ReplicaSet']) kind!: 'ReplicaSet';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @Nested(() => ReplicaSetSpecV1, true) spec!: ReplicaSetSpecV1;
  @LooseObject() status?: ReplicaSetStatusV1;
}

// ---------------------------------------------------------------------------------------------
// Lease (coordination.k8s.io/v1): node heartbeats (namespace kube-node-lease) and leader election

export class LeaseSpecV1 {
  @OptionalString() holderIdentity?: string;
  @OptionalInt(1) leaseDurationSeconds?: number;
  @IsOptional() @IsTimestamp() acquireTime?: string;
  @IsOptional() @IsTimestamp() renewTime?: string;
  @OptionalInt(0) leaseTransitions?: number;
  @OptionalString() strategy?: string;
  @OptionalString() preferredHolder?: string;
}

export class LeaseV1 {
  @RequiredEnum(['coordination.k8s.io/v1']) apiVersion!: 'coordination.k8s.io/v1';
  @RequiredEnum(['Lease']) kind!: 'Lease';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @Nested(() => LeaseSpecV1) spec?: LeaseSpecV1;
}
