// Alert rules over the app's Application Insights logs, to an action group that e-mails
// alertEmail: failed copies, RPO breaches, poison messages, failed creations and drills. The queries are in alerts/*.kql;
// what each assumes about the app's telemetry is written at its top (and in docs/deploy.md).
param location string
param tags object
param actionGroupName string
param alertEmail string
param appInsightsId string
@description('How often each rule runs, and the window it looks at (ISO 8601).')
param evaluationFrequency string = 'PT15M'

var rules = [
  {
    name: 'rpcopy-copy-failed'
    displayName: 'rpcopy: copy failed'
    description: 'A restore point copy job failed (event copy.failed). See GET /api/copies?state=Failed for the reason.'
    severity: 1
    query: loadTextContent('alerts/failed-copies.kql')
  }
  {
    name: 'rpcopy-rpo-breached'
    displayName: 'rpcopy: RPO breached'
    description: 'A protected collection and target region crossed its recovery-point objective (event rpo.breached). See GET /api/protection.'
    severity: 1
    query: loadTextContent('alerts/rpo-breaches.kql')
  }
  {
    name: 'rpcopy-poison-message'
    displayName: 'rpcopy: poison message'
    description: 'A stage message failed on every delivery and reached its -poison queue; the poison handler fails the job. Check the function logs for the error.'
    severity: 2
    query: loadTextContent('alerts/poison-messages.kql')
  }
  {
    name: 'rpcopy-creation-failed'
    displayName: 'rpcopy: restore point creation failed'
    description: 'A scheduled restore point creation failed (event creation.failed): the RPO clock keeps running. See GET /api/plan for the reason.'
    severity: 1
    query: loadTextContent('alerts/failed-creations.kql')
  }
  {
    name: 'rpcopy-drill-failed'
    displayName: 'rpcopy: restore drill failed'
    description: 'A restore drill could not restore or read a copy (event drill.failed). See GET /api/drills/{id} for the step and reason.'
    severity: 2
    query: loadTextContent('alerts/failed-drills.kql')
  }
]

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'rpcopy'
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmail
        useCommonAlertSchema: true
      }
    ]
  }
}

resource alert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [for rule in rules: {
  name: rule.name
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: rule.displayName
    description: rule.description
    severity: rule.severity
    enabled: true
    scopes: [appInsightsId]
    evaluationFrequency: evaluationFrequency
    windowSize: evaluationFrequency
    criteria: {
      allOf: [
        {
          query: rule.query
          timeAggregation: 'Count'
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: [actionGroup.id]
    }
  }
}]
