// The Face resource. Liveness sessions are a Limited Access feature: the subscription must be
// approved before session calls succeed (docs/deploy.md).

@description('Face account name.')
param name string

@description('Face is not offered in every region; liveness less so. Defaults to the resource group location.')
param location string

param tags object

@description('Globally unique subdomain (<sub>.cognitiveservices.azure.com); Entra ID tokens need it.')
param customSubDomainName string

@description('S0, or F0 (one free account per subscription).')
@allowed([
  'S0'
  'F0'
])
param sku string

resource face 'Microsoft.CognitiveServices/accounts@2024-10-01' = {
  name: name
  location: location
  tags: tags
  kind: 'Face'
  sku: {
    name: sku
  }
  properties: {
    customSubDomainName: customSubDomainName
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
    }
  }
}

output name string = face.name
output endpoint string = face.properties.endpoint
