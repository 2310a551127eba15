// The subscription's Event Grid system topic and the event subscription that sends new restore
// points to the function restore_point_created. The filter (filter.json) is what the app's
// intake accepts: event type ResourceWriteSuccess, data.operationName the restore point write
// (tests/infra compare it with the app's constants). Undeliverable events go to the dead-letter
// container, written with the Event Grid identity.
param environmentName string
param functionAppId string
param eventsIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string

@description('The Event Grid function in function_app.py.')
param functionName string = 'restore_point_created'
@description('Delivery attempts before an event is dead-lettered (Event Grid retries with backoff).')
param maxDeliveryAttempts int = 30
@description('Minutes Event Grid keeps retrying an event before dead-lettering it.')
param eventTimeToLiveInMinutes int = 1440

var eventFilter = loadJsonContent('filter.json')

resource topic 'Microsoft.EventGrid/systemTopics@2022-06-15' = {
  name: 'rpcopy-${environmentName}-${take(uniqueString(subscription().id, environmentName), 6)}'
  location: 'global'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${eventsIdentityId}': {}
    }
  }
  properties: {
    source: subscription().id
    topicType: 'Microsoft.Resources.Subscriptions'
  }

  resource toFunction 'eventSubscriptions' = {
    name: 'rpcopy-restore-point-created'
    properties: {
      destination: {
        endpointType: 'AzureFunction'
        properties: {
          resourceId: '${functionAppId}/functions/${functionName}'
          // The function takes one event per invocation.
          maxEventsPerBatch: 1
          preferredBatchSizeInKilobytes: 64
        }
      }
      eventDeliverySchema: 'EventGridSchema'
      filter: {
        includedEventTypes: eventFilter.includedEventTypes
        advancedFilters: eventFilter.advancedFilters
      }
      retryPolicy: {
        maxDeliveryAttempts: maxDeliveryAttempts
        eventTimeToLiveInMinutes: eventTimeToLiveInMinutes
      }
      deadLetterWithResourceIdentity: {
        identity: {
          type: 'UserAssigned'
          userAssignedIdentity: eventsIdentityId
        }
        deadLetterDestination: {
          endpointType: 'StorageBlob'
          properties: {
            resourceId: deadLetterStorageAccountId
            blobContainerName: deadLetterContainerName
          }
        }
      }
    }
  }
}

output systemTopicId string = topic.id
