// One protected subscription: our resource group in it and the system topic inside (a system
// topic lives in the subscription whose events it carries).
targetScope = 'subscription'

param environmentName string
param location string
param functionAppId string
param eventsIdentityId string
param deadLetterStorageAccountId string
param deadLetterContainerName string

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}-rpcopy-events'
  location: location
  // predown.sh deletes this group only if the tag still names this environment.
  tags: { 'rpcopy-owner': environmentName }
}

module topic 'topic.bicep' = {
  name: 'rpcopy-topic-${take(uniqueString(subscription().id, environmentName), 8)}'
  scope: rg
  params: {
    environmentName: environmentName
    functionAppId: functionAppId
    eventsIdentityId: eventsIdentityId
    deadLetterStorageAccountId: deadLetterStorageAccountId
    deadLetterContainerName: deadLetterContainerName
  }
}

output resourceGroupId string = rg.id
output systemTopicId string = topic.outputs.systemTopicId
