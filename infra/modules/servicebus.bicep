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

// Service Bus accepts 20 seconds to 7 days (QueueProperties.DuplicateDetectionHistoryTimeWindow,
// Azure.Messaging.ServiceBus reference): whole minutes from 1 to 10080 stay inside that.
@description('Duplicate detection window in minutes. It must exceed the app\'s resend horizon (23 hours, handlers.ResendHorizon; infra tests check it): Reconcile resends an unsent event under the same MessageID, and only a resend inside the window is dropped if the first copy arrived.')
@minValue(1)
@maxValue(10080)
param duplicateDetectionWindowMinutes int

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
    duplicateDetectionHistoryTimeWindow: 'PT${duplicateDetectionWindowMinutes}M'
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
// The app wants the host name only. It comes from the endpoint
// (https://<ns>.servicebus.windows.net:443/ in the public cloud): sovereign clouds use other
// suffixes, and environment() has none for Service Bus. Split on '/', not '//': tree-sitter-bicep
// 1.1.0 reads '//' in a string as a comment. The second split drops the port, if any.
output hostName string = split(split(namespace.properties.serviceBusEndpoint, '/')[2], ':')[0]
output topicName string = topic.name
