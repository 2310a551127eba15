// Application Insights on a Log Analytics workspace. Local (instrumentation key) authentication is
// off: the app's identity sends telemetry with Entra ID (Monitoring Metrics Publisher,
// rbac/monitoring-access.bicep; APPLICATIONINSIGHTS_AUTHENTICATION_STRING in app/function.bicep).
param location string
param tags object
param logAnalyticsName string
param appInsightsName string
@description('Days Log Analytics keeps the data (30 is included in the ingestion price).')
param retentionInDays int = 30

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: logAnalyticsName
  location: location
  tags: tags
  properties: {
    sku: { name: 'PerGB2018' }
    retentionInDays: retentionInDays
  }
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: appInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    IngestionMode: 'LogAnalytics'
    DisableLocalAuth: true
  }
}

output appInsightsName string = appInsights.name
output appInsightsId string = appInsights.id
output logAnalyticsId string = workspace.id
