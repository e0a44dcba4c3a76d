// The topic the app publishes one CloudEvent per final session state to. MessageId is
// "<sessionId>/<status>", so duplicate detection absorbs Reconcile's resends.

@description('Namespace name: 6-50 letters, digits and hyphens, globally unique.')
@minLength(6)
@maxLength(50)
param name string

param location string
param tags object

@description('Topic the app sends events to (SERVICEBUS_ENTITY).')
param topicName string

@description('Duplicate detection window. An event is resent only after Reconcile finds it unsent (about two minutes), so a day covers long storage outages too. Standard allows up to P7D.')
param duplicateDetectionWindow string

resource namespace 'Microsoft.ServiceBus/namespaces@2024-01-01' = {
  name: name
  location: location
  tags: tags
  // Basic has neither topics nor duplicate detection.
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    disableLocalAuth: true
    minimumTlsVersion: '1.2'
    publicNetworkAccess: 'Enabled'
  }
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2024-01-01' = {
  parent: namespace
  name: topicName
  properties: {
    // Immutable: changing it means deleting the topic.
    requiresDuplicateDetection: true
    duplicateDetectionHistoryTimeWindow: duplicateDetectionWindow
    defaultMessageTimeToLive: 'P14D'
    enableBatchedOperations: true
  }
}

var subscriptionProperties = {
  lockDuration: 'PT1M'
  maxDeliveryCount: 10
  defaultMessageTimeToLive: 'P14D'
  deadLetteringOnMessageExpiration: true
  deadLetteringOnFilterEvaluationExceptions: true
}

@description('Every event.')
resource allSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = {
  parent: topic
  name: 'all'
  properties: subscriptionProperties
}

@description('Example of a filtered subscription: sessions that did not pass, for manual review.')
resource reviewSubscription 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2024-01-01' = {
  parent: topic
  name: 'review'
  properties: subscriptionProperties

  // Named $Default so it replaces the match-all rule every new subscription gets.
  resource filter 'rules' = {
    name: '$Default'
    properties: {
      filterType: 'SqlFilter'
      sqlFilter: {
        sqlExpression: 'passed = false'
      }
    }
  }
}

output name string = namespace.name
// The app wants the host name only (<ns>.servicebus.windows.net).
output hostName string = '${namespace.name}.servicebus.windows.net'
output topicName string = topic.name
