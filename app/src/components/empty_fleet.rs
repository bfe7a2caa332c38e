use leptos::either::Either;
use leptos::prelude::*;

/// What an operator sees before the first delivery: how to connect Smartcar.
#[component]
pub fn EmptyFleet(webhooks_enabled: bool) -> impl IntoView {
    view! {
        <section class="notice getting-started">
            <h2>"No vehicles yet"</h2>
            <p>
                "chargelog lists a vehicle as soon as Smartcar delivers its first webhook. To connect:"
            </p>
            <ol>
                <li>
                    "Start chargelog with your Smartcar Application Management Token in "
                    <code>"SMARTCAR_MANAGEMENT_TOKEN"</code>
                    " (Dashboard → Configuration → API Keys). "
                    {if webhooks_enabled {
                        Either::Left(
                            view! { <strong class="ok">"This server has a token."</strong> },
                        )
                    } else {
                        Either::Right(
                            view! {
                                <strong class="warn">
                                    "This server has no token yet, so it refuses webhooks."
                                </strong>
                            },
                        )
                    }}
                </li>
                <li>
                    "Expose this server over HTTPS (Smartcar only calls public HTTPS addresses) and set the webhook's vehicle data callback URI to "
                    <code>"https://<your-host>/webhooks/smartcar"</code>"."
                </li>
                <li>
                    "Subscribe the signals "<code>"Charge.IsCharging"</code>" and "
                    <code>"Charge.IsChargingCableConnected"</code>
                    " as triggers, plus state of charge, energy added, wattage, range and location as data."
                </li>
                <li>
                    "Click “Verify this webhook” in the Smartcar Dashboard. chargelog answers the challenge, and vehicles appear here with their first delivery."
                </li>
            </ol>
        </section>
    }
}
