// The function app on Flex Consumption (Linux, Python 3.11), deployed from a blob container with
// the user-assigned identity, and every app setting the app reads.
param location string
param tags object
param planName string
param name string
param identityId string
param identityClientId string
param storageAccountName string
param deploymentContainerName string
param appInsightsName string
param maximumInstanceCount int
param instanceMemoryMB int
param armEndpoint string
param policyFile string
param sweepSubscriptions array
param eventGridTopicEndpoint string

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Tunable settings with their production values (also the queue and table names app/storage.bicep
// creates); tests/infra keep this file equal to what the app reads.
var tunableSettings = loadJsonContent('settings.json')

// Settings that depend on what this deployment creates. Nothing here is a secret: storage, ARM
// and telemetry all authenticate with the managed identity.
var deployedSettings = {
  // Functions host: identity-based AzureWebJobsStorage (the app's queues and tables use the
  // same connection, STORAGE_CONNECTION below).
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  // Telemetry with Entra ID (the component has local auth disabled).
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  // The app.
  STORAGE_CONNECTION: 'AzureWebJobsStorage'
  ARM_ENDPOINT: armEndpoint
  ARM_CREDENTIAL: 'default'
  ARM_MANAGED_IDENTITY_CLIENT_ID: identityClientId
  POLICY_FILE: policyFile
  SWEEP_SUBSCRIPTIONS: join(sweepSubscriptions, ',')
  EVENTGRID_TOPIC_ENDPOINT: eventGridTopicEndpoint
}
var appSettings = union(tunableSettings, deployedSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  //checkov:skip=CKV_AZURE_225:Flex Consumption plan without zone redundancy (needs a zonal region and ZRS storage); a zone outage delays copies, Event Grid retries delivery and the sweep catches up
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
  //checkov:skip=CKV_AZURE_17:Event Grid delivers to the AzureFunction endpoint and callers use function keys; client certificates would break both
  //checkov:skip=CKV_AZURE_222:No VNet in this deployment: Event Grid, the HTTP API and the Flex scale controller reach the app over the public endpoint (function keys, HTTPS only)
  //checkov:skip=CKV_AZURE_212:Flex Consumption scales from zero on demand; there is no minimum instance count to set
  //checkov:skip=CKV_AZURE_213:No anonymous health endpoint: the HTTP API needs a function key (a probe would get 401), and the work is queue, Event Grid and timer driven
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
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
    publicNetworkAccess: 'Enabled'
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      remoteDebuggingEnabled: false
      appSettings: [for s in items(appSettings): { name: s.key, value: s.value }]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
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
        name: 'python'
        version: '3.11'
      }
    }
  }

  // No basic-auth publishing: azd deploys with Entra ID.
  resource ftp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: { allow: false }
  }

  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: { allow: false }
  }
}

output name string = site.name
output id string = site.id
output url string = 'https://${site.properties.defaultHostName}'
