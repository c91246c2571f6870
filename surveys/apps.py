from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Satisfaction surveys"

    def ready(self) -> None:
        from cases.customers import read_answered_surveys_with
        from cases.services import answer_survey_replies_with
        from config.schedule import register
        from surveys import listeners, reconcile
        from surveys.replies import answer_from_reply
        from surveys.selectors import answered_surveys_of

        listeners.connect()
        # Answers the cases app needs at once, not after commit: whether an
        # inbound message answers a survey (intake picks its case by it) and
        # a customer's answers in their history (docs/architecture.md, "Hooks").
        answer_survey_replies_with(answer_from_reply)
        read_answered_surveys_with(answered_surveys_of)
        # Periodic job (config/schedule.py): surveys whose resolution event was lost, at most once a minute.
        register("surveys.send_missing", reconcile.send_missing_now_and_then, order=70)
