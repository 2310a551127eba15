// The one storage account: Functions host state and the deployment package (blob), the stage
// queues and the event queue, the ledger and rules tables, and Event Grid's dead-letter blobs.
// Shared keys are off: everything uses Entra ID (rbac/storage-access.bicep).
param location string
param tags object
param name string
param skuName string
param deploymentContainerName string
param deadLetterContainerName string

// The queue and table names are the app settings in settings.json (one source for both):
// every QUEUE_* setting names a stage queue.
var settings = loadJsonContent('settings.json')
var queueOrEmpty = [for s in items(settings): startsWith(s.key, 'QUEUE_') ? s.value : '']
var stageQueues = filter(queueOrEmpty, q => !empty(q))
// The host moves a message that failed maxDequeueCount times to <queue>-poison.
var poisonQueues = [for q in stageQueues: '${q}-poison']
var queueNames = concat(stageQueues, poisonQueues, [settings.EVENTS_QUEUE])
var tableNames = [settings.LEDGER_TABLE, settings.RULES_TABLE]

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  //checkov:skip=CKV_AZURE_35:No VNet in this deployment: the Flex app, Event Grid dead-lettering and azd reach the account over its public endpoint; shared keys are off and every caller uses Entra ID
  //checkov:skip=CKV_AZURE_59:Same reason as CKV_AZURE_35: public endpoint without VNet, Entra ID only (allowSharedKeyAccess false), no anonymous blob access (allowBlobPublicAccess false)
  //checkov:skip=CKV_AZURE_206:Redundancy is the storageSkuName parameter (ZRS/GRS/GZRS allowed); LRS by default for cost: the account holds work queues and the job ledger, not restore point data, and the sweep re-plans missing copies from ARM
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    accessTier: 'Hot'
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobs 'blobServices' = {
    name: 'default'
    properties: {
      deleteRetentionPolicy: { enabled: true, days: 7 }
      containerDeleteRetentionPolicy: { enabled: true, days: 7 }
    }

    resource deployment 'containers' = {
      name: deploymentContainerName
      properties: { publicAccess: 'None' }
    }

    resource deadLetter 'containers' = {
      name: deadLetterContainerName
      properties: { publicAccess: 'None' }
    }
  }
}

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [for q in queueNames: {
  parent: queueService
  name: q
}]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [for t in tableNames: {
  parent: tableService
  name: t
}]

output name string = account.name
output id string = account.id
output blobEndpoint string = account.properties.primaryEndpoints.blob
