// The vault for the callback signing keys. RBAC mode, no access policies. The secret itself is
// not created here, so no template or deployment parameter ever holds it: scripts/deploy.sh
// creates it once (docs/deploy.md), and rotation edits it in place.

@description('Key Vault name: 3-24 letters, digits and hyphens, globally unique.')
@minLength(3)
@maxLength(24)
param name string

param location string
param tags object

@description('Name of the secret holding CALLBACK_SIGNING_KEYS (comma-separated base64 keys).')
param signingKeysSecretName string

@description('Purge protection cannot be turned off again, and keeps the name taken for the retention period after a teardown.')
param enablePurgeProtection bool

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    // The API rejects false once set, so leave it unset unless asked for.
    enablePurgeProtection: enablePurgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
  }
}

output name string = vault.name
output id string = vault.id
// Versionless, so the app follows rotations (App Service refetches within 24 hours, or at once
// on any configuration change).
output signingKeysSecretUri string = '${vault.properties.vaultUri}secrets/${signingKeysSecretName}'
