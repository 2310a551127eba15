// Data-plane roles on the app's own storage account, and nothing broader:
// - the app identity: Storage Blob Data Owner (Functions host state: keys, timer and lease blobs;
//   the Flex deployment package), Storage Queue Data Contributor (stage and event queues),
//   Storage Table Data Contributor (ledger and rules tables). The same three roles the
//   Flex Consumption azd templates give their identity.
// - the Event Grid identity: Storage Blob Data Contributor on the dead-letter container only.
param storageAccountName string
param deadLetterContainerName string
param appPrincipalId string
param eventsPrincipalId string

var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}
var appRoles = [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource blobs 'blobServices' existing = {
    name: 'default'

    resource deadLetter 'containers' existing = {
      name: deadLetterContainerName
    }
  }
}

resource appAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for role in appRoles: {
  name: guid(account.id, appPrincipalId, role)
  scope: account
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
    principalId: appPrincipalId
    principalType: 'ServicePrincipal'
  }
}]

resource deadLetterAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(account::blobs::deadLetter.id, eventsPrincipalId, roles.storageBlobDataContributor)
  scope: account::blobs::deadLetter
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: eventsPrincipalId
    principalType: 'ServicePrincipal'
  }
}
