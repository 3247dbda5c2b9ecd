/**
 * The models of the remote and cluster manifests (config/k8s/remote, config/k8s/cluster): kind ->
 * validating class and TypeScript interface, on top of ./manifests.ts's MODELS.
 */
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { validateCertManager } from './cert-manager.js';
import { MODELS, type Models } from './manifests.js';

/** A remote section's: the tools Deployment, its Service and claim, cert-manager's objects. */
export const REMOTE_MODELS: Models = {
  ...MODELS,
  Deployment: {
    validate: (o) => new Deployment(o).validate(),
    module: 'kubernetes-models/apps/v1/Deployment',
    type: 'IDeployment',
  },
  Service: {
    validate: (o) => new Service(o).validate(),
    module: 'kubernetes-models/v1/Service',
    type: 'IService',
  },
  PersistentVolumeClaim: {
    validate: (o) => new PersistentVolumeClaim(o).validate(),
    module: 'kubernetes-models/v1/PersistentVolumeClaim',
    type: 'IPersistentVolumeClaim',
  },
  // Relative to test/k8s, where the strict check's virtual file is.
  Issuer: { validate: validateCertManager, module: './cert-manager.js', type: 'IIssuer' },
  Certificate: { validate: validateCertManager, module: './cert-manager.js', type: 'ICertificate' },
};

/** The scaled-out tools' besides: autoscaler, disruption budget, NetworkPolicy. */
export const CLUSTER_MODELS: Models = {
  ...REMOTE_MODELS,
  HorizontalPodAutoscaler: {
    validate: (o) => new HorizontalPodAutoscaler(o).validate(),
    module: 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
    type: 'IHorizontalPodAutoscaler',
  },
  PodDisruptionBudget: {
    validate: (o) => new PodDisruptionBudget(o).validate(),
    module: 'kubernetes-models/policy/v1/PodDisruptionBudget',
    type: 'IPodDisruptionBudget',
  },
  NetworkPolicy: {
    validate: (o) => new NetworkPolicy(o).validate(),
    module: 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
    type: 'INetworkPolicy',
  },
};
