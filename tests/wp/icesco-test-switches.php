<?php
/**
 * Plugin Name: ICESCO test switches
 * Description: Fault switches of the test WordPress (tests/wordpress.py), read from files in
 * the folder ICESCO_TEST_SWITCHES on every request. Copied to wp-content/mu-plugins/.
 *
 * rest     "401", "403" or "404": every REST request answers that status with a JSON error,
 *          as security plugins do through rest_authentication_errors; "html": every REST
 *          request answers 200 with an HTML "Access denied" page (a security plugin's page).
 * layout   "broken": every front-end HTML page (not feeds, not REST) gets its <body>
 *          replaced by an empty JavaScript application shell, so the page has no post links,
 *          titles or bodies (a redesign a crawler cannot read). <head> is left as it is.
 *
 * Also: wp_mail() sends nothing (it returns true), so no test ever sends mail; and each site
 * has its language (en_US, fr_FR, ar: <html lang>, and dir="rtl" for ar) although no language
 * pack is installed, so texts stay English (WordPress refuses a WPLANG option without one).
 */

if ( ! function_exists( 'wp_mail' ) ) {
	function wp_mail( $to, $subject, $message, $headers = '', $attachments = array() ) {
		return true;
	}
}

if ( defined( 'ICESCO_WP_SITE' ) ) {
	add_filter(
		'locale',
		static function ( $locale ) {
			$locales = array( 'en' => 'en_US', 'fr' => 'fr_FR', 'ar' => 'ar' );
			return $locales[ ICESCO_WP_SITE ] ?? $locale;
		}
	);
	if ( 'ar' === ICESCO_WP_SITE ) {
		add_action(
			'after_setup_theme',
			static function (): void {
				$GLOBALS['wp_locale']->text_direction = 'rtl';
			},
			0
		);
	}
}

if ( ! defined( 'ICESCO_TEST_SWITCHES' ) ) {
	return;
}

function icesco_test_switch( string $name ): ?string {
	$file = ICESCO_TEST_SWITCHES . '/' . $name;
	return is_file( $file ) ? trim( (string) file_get_contents( $file ) ) : null;
}

function icesco_is_rest_request(): bool {
	return defined( 'REST_REQUEST' ) && REST_REQUEST;
}

$icesco_rest_mode = icesco_test_switch( 'rest' );

if ( in_array( $icesco_rest_mode, array( '401', '403', '404' ), true ) ) {
	$icesco_rest_errors = array(
		'401' => array( 'rest_not_logged_in', 'You are not currently logged in.' ),
		'403' => array( 'rest_forbidden', 'Sorry, you are not allowed to do that.' ),
		'404' => array( 'rest_no_route', 'No route was found matching the URL and request method.' ),
	);
	$icesco_rest_error  = $icesco_rest_errors[ $icesco_rest_mode ];
	$icesco_rest_status = (int) $icesco_rest_mode;
	add_filter(
		'rest_authentication_errors',
		static function () use ( $icesco_rest_error, $icesco_rest_status ) {
			return new WP_Error( $icesco_rest_error[0], $icesco_rest_error[1], array( 'status' => $icesco_rest_status ) );
		},
		99
	);
	unset( $icesco_rest_errors, $icesco_rest_error, $icesco_rest_status );
} elseif ( 'html' === $icesco_rest_mode ) {
	add_action(
		'rest_api_init',
		static function (): void {
			if ( ! icesco_is_rest_request() ) {
				return;
			}
			status_header( 200 );
			header( 'Content-Type: text/html; charset=UTF-8' );
			nocache_headers();
			echo "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Access denied</title></head>\n"
				. "<body><h1>Access denied</h1><p>Your request was blocked by the security policy of this site.</p></body></html>\n";
			exit;
		},
		0
	);
}
unset( $icesco_rest_mode );

if ( 'broken' === icesco_test_switch( 'layout' ) ) {
	add_action(
		'template_redirect',
		static function (): void {
			if ( is_feed() || is_robots() || is_trackback() || is_favicon() || icesco_is_rest_request() ) {
				return;
			}
			$collected = '';
			ob_start(
				static function ( string $chunk, int $phase ) use ( &$collected ): string {
					if ( $phase & PHP_OUTPUT_HANDLER_CLEAN ) {
						$collected = '';
						return '';
					}
					$collected .= $chunk;
					if ( ! ( $phase & PHP_OUTPUT_HANDLER_FINAL ) ) {
						return '';
					}
					$shell = '<body class="app"><div id="app"></div><script src="/app.js"></script></body>';
					$page  = preg_replace( '#<body\b.*</body>#is', $shell, $collected, 1, $count );
					return ( $count && is_string( $page ) ) ? $page : $collected;
				}
			);
		},
		0
	);
}
