// Liveness Quick Link on Azure Functions: a Flex Consumption custom-handler app with one
// user-assigned identity and no keys anywhere. Deploy with scripts/deploy.sh (docs/deploy.md).
targetScope = 'resourceGroup'

@description('Region for every resource except, optionally, Face.')
param location string = resourceGroup().location

// At least 3 characters, so 'sb-<appName>' reaches the 6 a Service Bus namespace name needs.
@description('Function app name; also the stem of every other name. Its default host name is <appName>.azurewebsites.net.')
@minLength(3)
@maxLength(40)
param appName string = 'lql-${uniqueString(resourceGroup().id)}'

@description('Region of the Face resource (liveness is not offered everywhere).')
param faceLocation string = location

@description('Globally unique Face subdomain.')
param faceCustomSubDomainName string = appName

@allowed([
  'S0'
  'F0'
])
param faceSku string = 'S0'

@description('Flex Consumption instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

// 40 is the lowest cap Learn has documented for every region ("Flex Consumption plan hosting",
// Considerations); lower caps are not accepted everywhere.
@description('Maximum Flex Consumption instances (below 40 is not accepted in every region).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@description('PUBLIC_BASE_URL override (custom domain or front door). Empty = https://<the app\'s default host name>.')
param publicBaseUrl string = ''

@description('RETURN_URL_ALLOWED_ORIGINS: comma-separated https origins a StartSession returnUrl may use. Empty = no returnUrl accepted.')
param returnUrlAllowedOrigins string = ''

@description('QUICKLINK_ENDPOINT: the quick link service.')
param quickLinkEndpoint string = 'https://liveness.face.azure.com'

@description('RECONCILE_SCHEDULE: NCRONTAB, six fields, UTC.')
param reconcileSchedule string = '0 */1 * * * *'

@allowed([
  'Passive'
  'PassiveActive'
])
param livenessDefaultMode string = 'PassiveActive'

@description('DELETE_FACE_SESSIONS: delete the Face session once its outcome is recorded.')
param deleteFaceSessions bool = true

@description('ABANDON_AFTER_SECONDS: how long after a user returned without a finished attempt the session is recorded abandoned.')
@minValue(1)
@maxValue(86400)
param abandonAfterSeconds int = 120

@description('RETENTION_DAYS: how many days after its final state a session and its sent event are kept before Reconcile deletes them.')
@minValue(1)
@maxValue(3650)
param retentionDays int = 30

@allowed([
  'debug'
  'info'
  'warn'
  'error'
])
param logLevel string = 'info'

@description('SERVICEBUS_ENTITY: the events topic.')
param serviceBusTopicName string = 'liveness-events'

// Minutes rather than an ISO 8601 string, so a value outside what Service Bus accepts (20 s to
// 7 days) fails validation before anything is deployed.
@description('Duplicate detection window of the topic in minutes (1-10080). It must exceed the app\'s resend horizon, 23 hours (1380 minutes): see docs/events.md.')
@minValue(1)
@maxValue(10080)
param duplicateDetectionWindowMinutes int = 1440

@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

param enableKeyVaultPurgeProtection bool = false

param tags object = {}

// Storage and Key Vault names allow no hyphens or are short; derive them from a hash.
var suffix = uniqueString(resourceGroup().id, appName)
var allTags = union(tags, { app: 'liveness-quicklink' })
var deploymentContainerName = 'app-package'
var signingKeysSecretName = 'callback-signing-keys'

// The one table of internal/store ("<prefix>sessions"; production uses no prefix).
var tableNames = [
  'sessions'
]

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: {
    name: 'id-${appName}'
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: 'st${suffix}'
    location: location
    tags: allTags
    deploymentContainerName: deploymentContainerName
    tableNames: tableNames
  }
}

module serviceBus 'modules/servicebus.bicep' = {
  name: 'servicebus'
  params: {
    name: 'sb-${appName}'
    location: location
    tags: allTags
    topicName: serviceBusTopicName
    duplicateDetectionWindowMinutes: duplicateDetectionWindowMinutes
  }
}

module face 'modules/face.bicep' = {
  name: 'face'
  params: {
    name: 'face-${appName}'
    location: faceLocation
    tags: allTags
    customSubDomainName: faceCustomSubDomainName
    sku: faceSku
  }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    workspaceName: 'log-${appName}'
    appInsightsName: 'appi-${appName}'
    location: location
    tags: allTags
    retentionInDays: logRetentionInDays
  }
}

module keyVault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: {
    name: 'kv${suffix}'
    location: location
    tags: allTags
    signingKeysSecretName: signingKeysSecretName
    enablePurgeProtection: enableKeyVaultPurgeProtection
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    serviceBusTopicName: serviceBus.outputs.topicName
    faceAccountName: face.outputs.name
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  // Roles first, so the host's first start already finds its storage and the Key Vault reference.
  dependsOn: [
    roles
  ]
  params: {
    name: appName
    planName: 'plan-${appName}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    faceEndpoint: face.outputs.endpoint
    quickLinkEndpoint: quickLinkEndpoint
    publicBaseUrl: publicBaseUrl
    signingKeysSecretUri: keyVault.outputs.signingKeysSecretUri
    returnUrlAllowedOrigins: returnUrlAllowedOrigins
    tablesEndpoint: storage.outputs.tableEndpoint
    serviceBusHostName: serviceBus.outputs.hostName
    serviceBusEntity: serviceBus.outputs.topicName
    reconcileSchedule: reconcileSchedule
    livenessDefaultMode: livenessDefaultMode
    deleteFaceSessions: deleteFaceSessions
    abandonAfterSeconds: abandonAfterSeconds
    retentionDays: retentionDays
    logLevel: logLevel
  }
}

output appName string = app.outputs.name
output baseUrl string = app.outputs.baseUrl
output serviceBusNamespace string = serviceBus.outputs.hostName
output serviceBusTopic string = serviceBus.outputs.topicName
output keyVaultName string = keyVault.outputs.name
output keyVaultId string = keyVault.outputs.id
output signingKeysSecretName string = signingKeysSecretName
