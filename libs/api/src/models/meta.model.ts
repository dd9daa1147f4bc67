/** class-validator models of ObjectMeta and the pieces every kind shares. */
import { IsOptional } from 'class-validator';
import { labelValueErrors, qualifiedNameErrors } from '../names';
import {
  IsAnnotationMap,
  EachString,
  IsDns1123Label,
  IsDns1123Subdomain,
  IsGenerateName,
  IsLabelMap,
  IsQualifiedName,
  IsTimestamp,
  LooseList,
  NestedList,
  OptionalBool,
  OptionalInt,
  OptionalString,
  RequiredEnum,
  RequiredString,
} from '../validation';

export class OwnerReferenceV1 {
  @RequiredString() apiVersion!: string;
  @RequiredString() kind!: string;
  @RequiredString() name!: string;
  @RequiredString() uid!: string;
  @OptionalBool() controller?: boolean;
  @OptionalBool() blockOwnerDeletion?: boolean;
}

/** ObjectMeta without `name`, whose rule differs between kinds. */
export abstract class ObjectMetaFieldsV1 {
  @IsOptional() @IsGenerateName() generateName?: string;
  @IsOptional() @IsDns1123Label() namespace?: string;
  @OptionalString() uid?: string;
  @OptionalString() resourceVersion?: string;
  @OptionalInt(0) generation?: number;
  @IsOptional() @IsTimestamp() creationTimestamp?: string | null;
  @IsOptional() @IsTimestamp() deletionTimestamp?: string;
  @OptionalInt(0) deletionGracePeriodSeconds?: number;
  @IsLabelMap() labels?: Record<string, string>;
  @IsAnnotationMap() annotations?: Record<string, string>;
  @NestedList(() => OwnerReferenceV1) ownerReferences?: OwnerReferenceV1[];
  @IsOptional() @EachString('a qualified name', qualifiedNameErrors) finalizers?: string[];
  @LooseList() managedFields?: unknown[];
  /** Deprecated in Kubernetes but still found in exported manifests. */
  @OptionalString() selfLink?: string;
}

/** Metadata of objects whose names are DNS-1123 subdomains (most kinds). */
export class ObjectMetaV1 extends ObjectMetaFieldsV1 {
  @IsOptional() @IsDns1123Subdomain() name?: string;
}

/** Namespaces are named by DNS-1123 labels. */
export class NamespaceMetaV1 extends ObjectMetaFieldsV1 {
  @IsOptional() @IsDns1123Label() name?: string;
}

export class LabelSelectorRequirementV1 {
  @IsQualifiedName() @RequiredString() key!: string;
  @RequiredEnum(['In', 'NotIn', 'Exists', 'DoesNotExist']) operator!:
    'In' | 'NotIn' | 'Exists' | 'DoesNotExist';
  @IsOptional() @EachString('a label value', labelValueErrors) values?: string[];
}

export class LabelSelectorV1 {
  @IsLabelMap() matchLabels?: Record<string, string>;
  @NestedList(() => LabelSelectorRequirementV1) matchExpressions?: LabelSelectorRequirementV1[];
}

export class ObjectReferenceV1 {
  @OptionalString() apiVersion?: string;
  @OptionalString() kind?: string;
  @OptionalString() namespace?: string;
  @OptionalString() name?: string;
  @OptionalString() uid?: string;
  @OptionalString() resourceVersion?: string;
  @OptionalString() fieldPath?: string;
}

export class LocalObjectReferenceV1 {
  @IsOptional() @IsDns1123Subdomain() name?: string;
}
