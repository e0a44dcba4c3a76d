// The Flex Consumption plan and function app (custom handler), running as the user-assigned
// identity, with every app setting of design §7 and no key anywhere.

param name string
param planName string
param location string
param tags object

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity (AZURE_CLIENT_ID, AzureWebJobsStorage__clientId).')
param identityClientId string

param storageAccountName string
param storageBlobEndpoint string
param deploymentContainerName string
param appInsightsName string

@description('Instance memory in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int

@description('Upper bound of instances (HTTP functions scale as one group, the timer on its own).')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int

param faceEndpoint string
param quickLinkEndpoint string

@description('Overrides the app\'s own https://<defaultHostName> as PUBLIC_BASE_URL (e.g. a custom domain). Empty = the default host name.')
param publicBaseUrl string

@description('Versionless Key Vault secret URI of the callback signing keys.')
param signingKeysSecretUri string

param returnUrlAllowedOrigins string
param tablesEndpoint string
param serviceBusHostName string
param serviceBusEntity string
param reconcileSchedule string
param livenessDefaultMode string
param deleteFaceSessions bool
param abandonAfterSeconds int
param retentionDays int
param logLevel string

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    // No ftpsState, alwaysOn, linuxFxVersion…: Learn says not to set them on Flex ("App settings
    // reference for Azure Functions", Flex Consumption plan deprecations). FTP stays off through
    // the 'ftp' publishing policy below.
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

// Deployments authenticate with Entra ID (az CLI, Core Tools); no publishing passwords.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: site
  name: 'scm'
  properties: {
    allow: false
  }
}

// The app's own URL, known only once the site exists: the settings are a child resource of the
// site rather than part of it, which is what breaks the cycle.
var baseUrl = empty(publicBaseUrl) ? 'https://${site.properties.defaultHostName}' : publicBaseUrl

// This resource replaces the whole set of app settings: keep every setting here.
resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__accountName: storageAccountName
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    AZURE_CLIENT_ID: identityClientId
    FACE_ENDPOINT: faceEndpoint
    QUICKLINK_ENDPOINT: quickLinkEndpoint
    PUBLIC_BASE_URL: baseUrl
    CALLBACK_SIGNING_KEYS: '@Microsoft.KeyVault(SecretUri=${signingKeysSecretUri})'
    RETURN_URL_ALLOWED_ORIGINS: returnUrlAllowedOrigins
    TABLES_ENDPOINT: tablesEndpoint
    SERVICEBUS_NAMESPACE: serviceBusHostName
    SERVICEBUS_ENTITY: serviceBusEntity
    RECONCILE_SCHEDULE: reconcileSchedule
    LIVENESS_DEFAULT_MODE: livenessDefaultMode
    DELETE_FACE_SESSIONS: deleteFaceSessions ? 'true' : 'false'
    ABANDON_AFTER_SECONDS: '${abandonAfterSeconds}'
    RETENTION_DAYS: '${retentionDays}'
    LOG_LEVEL: logLevel
  }
}

output name string = site.name
output baseUrl string = baseUrl
