/** class-validator models of v1 Pod, its spec, containers, volumes and probes. */
import { IsDefined, IsOptional } from 'class-validator';
import {
  IsConfigMapKey,
  IsDns1123Label,
  IsDns1123Subdomain,
  IsEnvVarName,
  IsImageReference,
  IsIntOrString,
  IsPortName,
  IsQuantity,
  IsQuantityMap,
  IsStringMap,
  LooseList,
  LooseObject,
  Nested,
  NestedList,
  OptionalBool,
  OptionalEnum,
  OptionalInt,
  OptionalString,
  OptionalStringList,
  RequiredEnum,
  RequiredInt,
  RequiredString,
} from '../validation';
import { LocalObjectReferenceV1, ObjectMetaV1 } from './meta.model';

export const RESTART_POLICIES = ['Always', 'OnFailure', 'Never'] as const;
export const IMAGE_PULL_POLICIES = ['Always', 'IfNotPresent', 'Never'] as const;
export const PROTOCOLS = ['TCP', 'UDP', 'SCTP'] as const;
export const DNS_POLICIES = ['ClusterFirst', 'ClusterFirstWithHostNet', 'Default', 'None'] as const;
export const POD_PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
export const TAINT_EFFECTS = ['NoSchedule', 'PreferNoSchedule', 'NoExecute'] as const;

export type RestartPolicy = (typeof RESTART_POLICIES)[number];
export type PullPolicy = (typeof IMAGE_PULL_POLICIES)[number];
export type Protocol = (typeof PROTOCOLS)[number];
export type PodPhase = (typeof POD_PHASES)[number];

// ---------------------------------------------------------------------------------------------
// env

export class ConfigMapKeySelectorV1 {
  @IsConfigMapKey() @RequiredString() key!: string;
  @IsDns1123Subdomain() @RequiredString() name!: string;
  @OptionalBool() optional?: boolean;
}

export class SecretKeySelectorV1 {
  @IsConfigMapKey() @RequiredString() key!: string;
  @IsDns1123Subdomain() @RequiredString() name!: string;
  @OptionalBool() optional?: boolean;
}

export class ObjectFieldSelectorV1 {
  @OptionalString() apiVersion?: string;
  @RequiredString() fieldPath!: string;
}

export class ResourceFieldSelectorV1 {
  @OptionalString() containerName?: string;
  @RequiredString() resource!: string;
  @IsOptional() @IsQuantity() divisor?: string | number;
}

export class EnvVarSourceV1 {
  @Nested(() => ConfigMapKeySelectorV1) configMapKeyRef?: ConfigMapKeySelectorV1;
  @Nested(() => SecretKeySelectorV1) secretKeyRef?: SecretKeySelectorV1;
  @Nested(() => ObjectFieldSelectorV1) fieldRef?: ObjectFieldSelectorV1;
  @Nested(() => ResourceFieldSelectorV1) resourceFieldRef?: ResourceFieldSelectorV1;
}

export class EnvVarV1 {
  @IsEnvVarName() @RequiredString() name!: string;
  @OptionalString() value?: string;
  @Nested(() => EnvVarSourceV1) valueFrom?: EnvVarSourceV1;
}

export class ConfigMapEnvSourceV1 {
  @IsDns1123Subdomain() @RequiredString() name!: string;
  @OptionalBool() optional?: boolean;
}

export class SecretEnvSourceV1 {
  @IsDns1123Subdomain() @RequiredString() name!: string;
  @OptionalBool() optional?: boolean;
}

export class EnvFromSourceV1 {
  @OptionalString() prefix?: string;
  @Nested(() => ConfigMapEnvSourceV1) configMapRef?: ConfigMapEnvSourceV1;
  @Nested(() => SecretEnvSourceV1) secretRef?: SecretEnvSourceV1;
}

// ---------------------------------------------------------------------------------------------
// ports, resources, security

export class ContainerPortV1 {
  @IsOptional() @IsPortName() name?: string;
  @RequiredInt(1, 65535) containerPort!: number;
  @OptionalEnum(PROTOCOLS) protocol?: Protocol;
  @OptionalInt(0, 65535) hostPort?: number;
  @OptionalString() hostIP?: string;
}

export class ResourceRequirementsV1 {
  @IsQuantityMap() requests?: Record<string, string | number>;
  @IsQuantityMap() limits?: Record<string, string | number>;
}

export class CapabilitiesV1 {
  @OptionalStringList() add?: string[];
  @OptionalStringList() drop?: string[];
}

export class SeccompProfileV1 {
  @RequiredEnum(['RuntimeDefault', 'Unconfined', 'Localhost']) type!: string;
  @OptionalString() localhostProfile?: string;
}

export class SecurityContextV1 {
  @OptionalInt(0) runAsUser?: number;
  @OptionalInt(0) runAsGroup?: number;
  @OptionalBool() runAsNonRoot?: boolean;
  @OptionalBool() privileged?: boolean;
  @OptionalBool() readOnlyRootFilesystem?: boolean;
  @OptionalBool() allowPrivilegeEscalation?: boolean;
  @Nested(() => CapabilitiesV1) capabilities?: CapabilitiesV1;
  @Nested(() => SeccompProfileV1) seccompProfile?: SeccompProfileV1;
  @LooseObject() seLinuxOptions?: Record<string, unknown>;
  @OptionalEnum(['Default', 'Unmasked']) procMount?: string;
}

export class PodSecurityContextV1 {
  @OptionalInt(0) runAsUser?: number;
  @OptionalInt(0) runAsGroup?: number;
  @OptionalBool() runAsNonRoot?: boolean;
  @OptionalInt(0) fsGroup?: number;
  @OptionalEnum(['OnRootMismatch', 'Always']) fsGroupChangePolicy?: string;
  @IsOptional() @LooseList() supplementalGroups?: number[];
  @Nested(() => SeccompProfileV1) seccompProfile?: SeccompProfileV1;
  @LooseObject() seLinuxOptions?: Record<string, unknown>;
  @LooseList() sysctls?: { name: string; value: string }[];
}

export class VolumeMountV1 {
  @RequiredString() name!: string;
  @RequiredString() mountPath!: string;
  @OptionalBool() readOnly?: boolean;
  @OptionalString() subPath?: string;
  @OptionalEnum(['None', 'HostToContainer', 'Bidirectional']) mountPropagation?: string;
}

// ---------------------------------------------------------------------------------------------
// probes

export class ExecActionV1 {
  @OptionalStringList() command?: string[];
}

export class HttpHeaderV1 {
  @RequiredString() name!: string;
  @OptionalString() value?: string;
}

export class HttpGetActionV1 {
  @OptionalString() path?: string;
  @IsDefined() @IsIntOrString({ min: 1, max: 65535, portName: true }) port!: number | string;
  @OptionalString() host?: string;
  @OptionalEnum(['HTTP', 'HTTPS']) scheme?: string;
  @NestedList(() => HttpHeaderV1) httpHeaders?: HttpHeaderV1[];
}

export class TcpSocketActionV1 {
  @IsDefined() @IsIntOrString({ min: 1, max: 65535, portName: true }) port!: number | string;
  @OptionalString() host?: string;
}

export class GrpcActionV1 {
  @RequiredInt(1, 65535) port!: number;
  @OptionalString() service?: string;
}

export class ProbeV1 {
  @Nested(() => ExecActionV1) exec?: ExecActionV1;
  @Nested(() => HttpGetActionV1) httpGet?: HttpGetActionV1;
  @Nested(() => TcpSocketActionV1) tcpSocket?: TcpSocketActionV1;
  @Nested(() => GrpcActionV1) grpc?: GrpcActionV1;
  @OptionalInt(0) initialDelaySeconds?: number;
  @OptionalInt(1) periodSeconds?: number;
  @OptionalInt(1) timeoutSeconds?: number;
  @OptionalInt(1) failureThreshold?: number;
  @OptionalInt(1) successThreshold?: number;
  @OptionalInt(1) terminationGracePeriodSeconds?: number;
}

export class SleepActionV1 {
  @RequiredInt(0) seconds!: number;
}

export class LifecycleHandlerV1 {
  @Nested(() => ExecActionV1) exec?: ExecActionV1;
  @Nested(() => HttpGetActionV1) httpGet?: HttpGetActionV1;
  @Nested(() => TcpSocketActionV1) tcpSocket?: TcpSocketActionV1;
  @Nested(() => SleepActionV1) sleep?: SleepActionV1;
}

export class LifecycleV1 {
  @Nested(() => LifecycleHandlerV1) postStart?: LifecycleHandlerV1;
  @Nested(() => LifecycleHandlerV1) preStop?: LifecycleHandlerV1;
  @OptionalString() stopSignal?: string;
}

// ---------------------------------------------------------------------------------------------
// containers

export class ContainerV1 {
  @IsDns1123Label() @RequiredString() name!: string;
  @IsImageReference() @RequiredString() image!: string;
  @OptionalEnum(IMAGE_PULL_POLICIES) imagePullPolicy?: PullPolicy;
  @OptionalStringList() command?: string[];
  @OptionalStringList() args?: string[];
  @OptionalString() workingDir?: string;
  @NestedList(() => EnvVarV1) env?: EnvVarV1[];
  @NestedList(() => EnvFromSourceV1) envFrom?: EnvFromSourceV1[];
  @NestedList(() => ContainerPortV1) ports?: ContainerPortV1[];
  @Nested(() => ResourceRequirementsV1) resources?: ResourceRequirementsV1;
  @Nested(() => SecurityContextV1) securityContext?: SecurityContextV1;
  @NestedList(() => VolumeMountV1) volumeMounts?: VolumeMountV1[];
  @Nested(() => ProbeV1) livenessProbe?: ProbeV1;
  @Nested(() => ProbeV1) readinessProbe?: ProbeV1;
  @Nested(() => ProbeV1) startupProbe?: ProbeV1;
  @Nested(() => LifecycleV1) lifecycle?: LifecycleV1;
  @OptionalString() terminationMessagePath?: string;
  @OptionalEnum(['File', 'FallbackToLogsOnError']) terminationMessagePolicy?: string;
  @OptionalBool() stdin?: boolean;
  @OptionalBool() stdinOnce?: boolean;
  @OptionalBool() tty?: boolean;
}

// ---------------------------------------------------------------------------------------------
// volumes

export class EmptyDirVolumeSourceV1 {
  @OptionalEnum(['', 'Memory']) medium?: string;
  @IsOptional() @IsQuantity() sizeLimit?: string | number;
}

export class HostPathVolumeSourceV1 {
  @RequiredString() path!: string;
  @OptionalEnum([
    '',
    'DirectoryOrCreate',
    'Directory',
    'FileOrCreate',
    'File',
    'Socket',
    'CharDevice',
    'BlockDevice',
  ])
  type?: string;
}

export class KeyToPathV1 {
  @IsConfigMapKey() @RequiredString() key!: string;
  @RequiredString() path!: string;
  @OptionalInt(0, 0o777) mode?: number;
}

export class ConfigMapVolumeSourceV1 {
  @IsOptional() @IsDns1123Subdomain() name?: string;
  @NestedList(() => KeyToPathV1) items?: KeyToPathV1[];
  @OptionalInt(0, 0o777) defaultMode?: number;
  @OptionalBool() optional?: boolean;
}

export class SecretVolumeSourceV1 {
  @IsOptional() @IsDns1123Subdomain() secretName?: string;
  @NestedList(() => KeyToPathV1) items?: KeyToPathV1[];
  @OptionalInt(0, 0o777) defaultMode?: number;
  @OptionalBool() optional?: boolean;
}

export const VOLUME_SOURCES = ['emptyDir', 'hostPath', 'configMap', 'secret'] as const;

export class VolumeV1 {
  @IsDns1123Label() @RequiredString() name!: string;
  @Nested(() => EmptyDirVolumeSourceV1) emptyDir?: EmptyDirVolumeSourceV1;
  @Nested(() => HostPathVolumeSourceV1) hostPath?: HostPathVolumeSourceV1;
  @Nested(() => ConfigMapVolumeSourceV1) configMap?: ConfigMapVolumeSourceV1;
  @Nested(() => SecretVolumeSourceV1) secret?: SecretVolumeSourceV1;
}

// ---------------------------------------------------------------------------------------------
// pod spec

export class TolerationV1 {
  @OptionalString() key?: string;
  @OptionalEnum(['Exists', 'Equal']) operator?: string;
  @OptionalString() value?: string;
  @OptionalEnum(['', ...TAINT_EFFECTS]) effect?: string;
  @OptionalInt() tolerationSeconds?: number;
}

export class HostAliasV1 {
  @RequiredString() ip!: string;
  @OptionalStringList() hostnames?: string[];
}

export class PodSpecV1 {
  @NestedList(() => ContainerV1, true) containers!: ContainerV1[];
  @NestedList(() => ContainerV1) initContainers?: ContainerV1[];
  @OptionalEnum(RESTART_POLICIES) restartPolicy?: RestartPolicy;
  @IsStringMap() nodeSelector?: Record<string, string>;
  @IsOptional() @IsDns1123Subdomain() nodeName?: string;
  @NestedList(() => VolumeV1) volumes?: VolumeV1[];
  @OptionalInt(0) terminationGracePeriodSeconds?: number;
  @OptionalInt(1) activeDeadlineSeconds?: number;
  @IsOptional() @IsDns1123Label() hostname?: string;
  @IsOptional() @IsDns1123Label() subdomain?: string;
  @OptionalBool() hostNetwork?: boolean;
  @OptionalBool() hostPID?: boolean;
  @OptionalBool() hostIPC?: boolean;
  @OptionalBool() shareProcessNamespace?: boolean;
  @NestedList(() => LocalObjectReferenceV1) imagePullSecrets?: LocalObjectReferenceV1[];
  @IsOptional() @IsDns1123Subdomain() serviceAccountName?: string;
  /** Deprecated alias of serviceAccountName. */
  @IsOptional() @IsDns1123Subdomain() serviceAccount?: string;
  @OptionalBool() automountServiceAccountToken?: boolean;
  @OptionalEnum(DNS_POLICIES) dnsPolicy?: string;
  @LooseObject() dnsConfig?: Record<string, unknown>;
  @OptionalString() schedulerName?: string;
  @OptionalInt() priority?: number;
  @OptionalString() priorityClassName?: string;
  @NestedList(() => TolerationV1) tolerations?: TolerationV1[];
  @LooseObject() affinity?: Record<string, unknown>;
  @LooseList() topologySpreadConstraints?: unknown[];
  @Nested(() => PodSecurityContextV1) securityContext?: PodSecurityContextV1;
  @NestedList(() => HostAliasV1) hostAliases?: HostAliasV1[];
  @OptionalBool() enableServiceLinks?: boolean;
  @OptionalString() runtimeClassName?: string;
  @OptionalEnum(['PreemptLowerPriority', 'Never']) preemptionPolicy?: string;
  @LooseList() readinessGates?: unknown[];
  @IsQuantityMap() overhead?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------
// status (written by the agent and controllers; accepted as any object, typed here for readers)

export interface ContainerStateV1 {
  waiting?: { reason?: string; message?: string };
  running?: { startedAt?: string };
  terminated?: {
    exitCode: number;
    signal?: number;
    reason?: string;
    message?: string;
    startedAt?: string;
    finishedAt?: string;
    containerID?: string;
  };
}

export interface ContainerStatusV1 {
  name: string;
  state?: ContainerStateV1;
  lastState?: ContainerStateV1;
  ready: boolean;
  restartCount: number;
  image: string;
  imageID: string;
  containerID?: string;
  started?: boolean;
}

export interface PodConditionV1 {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

export interface PodStatusV1 {
  phase?: PodPhase;
  conditions?: PodConditionV1[];
  message?: string;
  reason?: string;
  hostIP?: string;
  podIP?: string;
  podIPs?: { ip: string }[];
  startTime?: string;
  initContainerStatuses?: ContainerStatusV1[];
  containerStatuses?: ContainerStatusV1[];
  qosClass?: string;
}

export class PodV1 {
  @RequiredEnum(['v1']) apiVersion!: 'v1';
  @RequiredEnum(['Pod']) kind!: 'Pod';
  @Nested(() => ObjectMetaV1, true) metadata!: ObjectMetaV1;
  @Nested(() => PodSpecV1, true) spec!: PodSpecV1;
  @LooseObject() status?: PodStatusV1;
}

export class PodTemplateSpecV1 {
  @Nested(() => ObjectMetaV1) metadata?: ObjectMetaV1;
  @Nested(() => PodSpecV1, true) spec!: PodSpecV1;
}
