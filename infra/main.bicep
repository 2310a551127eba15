// rpcopy: everything `azd provision` deploys. All of it lives in ONE resource group that this
// deployment creates (rg-<env>), so `azd down` (which deletes every resource group named in this
// deployment's outputs) removes exactly what `azd up` made and nothing of yours.
//
// Resources on scopes we do not own -- the custom role and its assignments on your source and
// target scopes (infra/access/), the Event Grid system topics in your protected subscriptions
// (infra/events/) -- are separate subscription deployments run by the azd hooks in
// infra/hooks/ and removed by the predown hook. See docs/deploy.md.
targetScope = 'subscription'

@minLength(1)
@maxLength(48)
@description('azd environment name; names the resource group and seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of the function app and everything else in the resource group (a region with Flex Consumption).')
@metadata({ azd: { type: 'location' } })
param location string

@description('Protected source scopes, comma-separated: subscription ids (GUID or /subscriptions/<id>) and/or resource group ids (/subscriptions/<id>/resourceGroups/<name>). Every protected subscription is swept and gets an Event Grid system topic (infra/events/).')
param protectedScopes string

@description('Target scopes (where the copies go), comma-separated, same forms as protectedScopes; a target resource group must exist. Empty: copies stay in the protected scopes (the default target resource group is the source\'s).')
param targetScopes string = ''

@description('E-mail address that receives the alerts (failed copies, RPO breaches, poison messages).')
param alertEmail string

@minValue(40)
@maxValue(1000)
@description('Flex Consumption: the most instances the app scales out to (40 is the lowest Flex allows).')
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
@description('Flex Consumption: memory per instance, in MB.')
param instanceMemoryMB int = 2048

@description('POLICY_FILE: policy JSON path relative to the app root (shipped in the app package), e.g. policies.json; empty = tag policies only.')
param policyFile string = ''

@description('EVENTGRID_TOPIC_ENDPOINT: optional Event Grid custom topic that receives every CloudEvent (grant the app identity EventGrid Data Sender on it yourself).')
param eventGridTopicEndpoint string = ''

@description('ARM_ENDPOINT: Azure Resource Manager origin the app calls.')
param armEndpoint string = 'https://management.azure.com'

@allowed(['Standard_LRS', 'Standard_ZRS', 'Standard_GRS', 'Standard_GZRS'])
@description('Storage redundancy of the ledger, queues and deployment package (ZRS/GZRS only where the region has availability zones).')
param storageSkuName string = 'Standard_LRS'

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var names = {
  resourceGroup: 'rg-${environmentName}'
  appIdentity: 'id-rpcopy-${resourceToken}'
  eventsIdentity: 'id-rpcopy-events-${resourceToken}'
  storage: 'strpcopy${resourceToken}'
  logAnalytics: 'log-rpcopy-${resourceToken}'
  appInsights: 'appi-rpcopy-${resourceToken}'
  plan: 'plan-rpcopy-${resourceToken}'
  functionApp: 'func-rpcopy-${resourceToken}'
  actionGroup: 'ag-rpcopy-${resourceToken}'
}
var deploymentContainerName = 'app-package'
var deadLetterContainerName = 'eventgrid-deadletter'

// "a, b" -> ['/subscriptions/a', ...]: bare GUIDs become subscription ids; ids are lower-cased.
// (pycep-parser 0.5.1, which checkov uses, cannot read a for-expression as a function argument,
// hence the intermediate variables.)
var protectedScopeList = [for s in split(replace(protectedScopes, ' ', ''), ','): contains(s, '/') ? toLower(s) : '/subscriptions/${toLower(s)}']
var protectedScopeIds = filter(protectedScopeList, s => s != '/subscriptions/')
var protectedSubscriptionList = [for s in protectedScopeIds: split(s, '/')[2]]
var targetScopeList = [for s in split(replace(targetScopes, ' ', ''), ','): contains(s, '/') ? toLower(s) : '/subscriptions/${toLower(s)}']
var targetScopeIds = filter(targetScopeList, s => s != '/subscriptions/')
// Every subscription that holds a protected scope is swept (SWEEP_SUBSCRIPTIONS); union()
// removes duplicates.
var sweepSubscriptions = union(protectedSubscriptionList, [])

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: names.resourceGroup
  location: location
  tags: tags
}

module identity 'identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    location: location
    tags: tags
    appIdentityName: names.appIdentity
    eventsIdentityName: names.eventsIdentity
  }
}

module monitoring 'monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    location: location
    tags: tags
    logAnalyticsName: names.logAnalytics
    appInsightsName: names.appInsights
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    location: location
    tags: tags
    name: names.storage
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    deadLetterContainerName: deadLetterContainerName
  }
}

module storageAccess 'rbac/storage-access.bicep' = {
  name: 'storage-access'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    deadLetterContainerName: deadLetterContainerName
    appPrincipalId: identity.outputs.appPrincipalId
    eventsPrincipalId: identity.outputs.eventsPrincipalId
  }
}

module monitoringAccess 'rbac/monitoring-access.bicep' = {
  name: 'monitoring-access'
  scope: rg
  params: {
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identity.outputs.appPrincipalId
  }
}

module function 'app/function.bicep' = {
  name: 'function'
  scope: rg
  dependsOn: [storageAccess, monitoringAccess]
  params: {
    location: location
    tags: tags
    planName: names.plan
    name: names.functionApp
    identityId: identity.outputs.appIdentityId
    identityClientId: identity.outputs.appClientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    appInsightsName: monitoring.outputs.appInsightsName
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    armEndpoint: armEndpoint
    policyFile: policyFile
    sweepSubscriptions: sweepSubscriptions
    eventGridTopicEndpoint: eventGridTopicEndpoint
  }
}

module alerts 'alerts.bicep' = {
  name: 'alerts'
  scope: rg
  params: {
    location: location
    tags: tags
    actionGroupName: names.actionGroup
    alertEmail: alertEmail
    appInsightsId: monitoring.outputs.appInsightsId
  }
}

// azd stores these in the environment (.azure/<env>/.env); the hooks read them.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = function.outputs.name
output SERVICE_API_NAME string = function.outputs.name
output RPCOPY_FUNCTION_APP_ID string = function.outputs.id
output RPCOPY_FUNCTION_APP_URL string = function.outputs.url
output RPCOPY_APP_PRINCIPAL_ID string = identity.outputs.appPrincipalId
output RPCOPY_APP_CLIENT_ID string = identity.outputs.appClientId
output RPCOPY_EVENTS_IDENTITY_ID string = identity.outputs.eventsIdentityId
output RPCOPY_STORAGE_ACCOUNT_ID string = storage.outputs.id
output RPCOPY_DEAD_LETTER_CONTAINER string = deadLetterContainerName
output RPCOPY_APPINSIGHTS_NAME string = monitoring.outputs.appInsightsName
// The scopes, normalised; the hooks deploy infra/access and infra/events with them.
output RPCOPY_PROTECTED_SCOPES string = join(protectedScopeIds, ',')
output RPCOPY_TARGET_SCOPES string = join(targetScopeIds, ',')
