// Event Grid intake: per protected subscription, a resource group of our own in that
// subscription (rg-<env>-rpcopy-events), the subscription's system topic and an event
// subscription to the function restore_point_created.
//
// Deployed by infra/hooks/postdeploy.sh after `azd deploy` (Event Grid refuses an AzureFunction
// endpoint whose function is not deployed yet), as its own subscription deployment so that
// `azd down` never sees resource groups outside rg-<env>; infra/hooks/predown.sh deletes the
// resource groups listed in this deployment's outputs (after checking their rpcopy-owner tag).
targetScope = 'subscription'

param environmentName string
@description('Region of the events resource groups (the topics themselves are global).')
param location string
@description('Protected source scopes, comma-separated (same value as main.bicep protectedScopes).')
param protectedScopes string
@description('Resource id of the function app (main.bicep output RPCOPY_FUNCTION_APP_ID).')
param functionAppId string
@description('Resource id of the Event Grid identity (main.bicep output RPCOPY_EVENTS_IDENTITY_ID).')
param eventsIdentityId string
@description('Resource id of the storage account holding the dead-letter container.')
param deadLetterStorageAccountId string
param deadLetterContainerName string

// Same normalisation as main.bicep (bare GUIDs become subscription ids, lower case).
var scopeList = [for s in split(replace(protectedScopes, ' ', ''), ','): contains(s, '/') ? toLower(s) : '/subscriptions/${toLower(s)}']
var scopes = filter(scopeList, s => s != '/subscriptions/')
var subscriptionList = [for s in scopes: split(s, '/')[2]]
// One topic per subscription, however many of its resource groups are protected.
var subscriptions = union(subscriptionList, [])

module perSubscription 'subscription.bicep' = [for (sub, i) in subscriptions: {
  name: 'rpcopy-events-${i}-${take(uniqueString(sub, environmentName), 8)}'
  scope: subscription(sub)
  params: {
    environmentName: environmentName
    location: location
    functionAppId: functionAppId
    eventsIdentityId: eventsIdentityId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
  }
}]

// infra/hooks/predown.sh deletes exactly these resource groups (topics and subscriptions in them).
output resourceGroupIds array = [for (sub, i) in subscriptions: perSubscription[i].outputs.resourceGroupId]
output systemTopicIds array = [for (sub, i) in subscriptions: perSubscription[i].outputs.systemTopicId]
